//! An App's networking and storage shape (pure): its ports in declaration order, host
//! networking, persistent volumes, image. Validation and translation both read these.

use dromos_crds::app::App;

/// Number of ports an App declares (host ports, port mappings or pod endpoints).
pub fn port_count(app: &App) -> usize {
    let s = &app.spec;
    if !s.containers.is_empty() {
        return s.containers.iter().map(|c| c.endpoints.len()).sum();
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm.len();
    }
    if let Some(pd) = &s.port_definitions {
        return pd.len();
    }
    if let Some(p) = &s.ports {
        return p.len();
    }
    if is_host_networking(app) { 1 } else { 0 }
}

/// Port names in declaration order (`None` for unnamed ports).
pub fn port_names(app: &App) -> Vec<Option<String>> {
    let s = &app.spec;
    if !s.containers.is_empty() {
        return s.containers.iter().flat_map(|c| c.endpoints.iter().map(|e| Some(e.name.clone()))).collect();
    }
    if let Some(pm) = s.container.as_ref().and_then(|c| c.port_mappings.as_ref()) {
        return pm.iter().map(|p| p.name.clone()).collect();
    }
    if let Some(pd) = &s.port_definitions {
        return pd.iter().map(|p| p.name.clone()).collect();
    }
    if let Some(p) = &s.ports {
        return vec![None; p.len()];
    }
    if is_host_networking(app) { vec![Some("default".into())] } else { vec![] }
}

/// True when the App uses host networking (Marathon's default).
pub fn is_host_networking(app: &App) -> bool {
    app.spec.networks.is_empty() || app.spec.networks.iter().all(|n| n.mode.as_deref().unwrap_or("host") == "host")
}

/// True when the App has persistent volumes (a resident app).
pub fn is_resident(app: &App) -> bool {
    app.spec.container.as_ref().is_some_and(|c| c.volumes.iter().any(|v| v.persistent.is_some()))
        || app.spec.volumes.iter().any(|v| v.persistent.is_some())
}

/// The Docker image of an App in app form, when one is given and not empty.
pub fn image(app: &App) -> Option<&str> {
    app.spec.container.as_ref().and_then(|c| c.docker.as_ref()).map(|d| d.image.as_str()).filter(|i| !i.is_empty())
}
