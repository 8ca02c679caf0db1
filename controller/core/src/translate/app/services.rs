//! An App's Services (pure): one for its named ports (headless for resident apps), one per
//! VIP name.

use super::Ctx;
use super::ports::PortInfo;
use crate::translate::{Expansion, to_value};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The App's Service and its VIP Services; names a Service cannot have are warnings.
pub(super) fn push_services(cx: &Ctx<'_>, exp: &mut Expansion) {
    let (s, name, resident, selector) = (&cx.app.spec, &cx.name, cx.resident, &cx.selector);
    let all_ports: Vec<PortInfo> = if s.containers.is_empty() {
        cx.ports.clone()
    } else {
        super::ports::pod_ports(cx.app).into_iter().flatten().collect()
    };
    let service_ports: Vec<ServicePort> = all_ports
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.is_some() || p.vip.is_some())
        .map(|(i, p)| ServicePort {
            name: Some(p.name.clone().unwrap_or_else(|| format!("port{i}"))),
            port: p.vip.as_ref().map(|v| v.1).unwrap_or(p.container_port),
            target_port: Some(IntOrString::Int(p.container_port)),
            protocol: Some(p.protocol.clone()),
            ..Default::default()
        })
        .collect();
    let dns1035 = name.starts_with(|c: char| c.is_ascii_lowercase());
    if (!service_ports.is_empty() || resident) && dns1035 {
        let svc = Service {
            metadata: cx.meta(name),
            spec: Some(ServiceSpec {
                selector: Some(selector.clone()),
                ports: Some(if service_ports.is_empty() {
                    vec![ServicePort { name: Some("none".into()), port: 1, ..Default::default() }]
                } else {
                    service_ports.clone()
                }),
                cluster_ip: resident.then(|| "None".to_string()),
                publish_not_ready_addresses: None,
                ..Default::default()
            }),
            ..Default::default()
        };
        exp.objects.push(to_value(&svc));
    } else if !service_ports.is_empty() {
        exp.warnings.push((
            "metadata.name".into(),
            format!(
                "`{name}` starts with a digit, which a Service name may not; no Service is created (rename the app)"
            ),
        ));
    }
    push_vip_services(cx, &all_ports, exp);
}

/// One Service per VIP name other than the App's own.
fn push_vip_services(cx: &Ctx<'_>, all_ports: &[PortInfo], exp: &mut Expansion) {
    let (name, selector) = (cx.name.as_str(), &cx.selector);
    let mut vips: BTreeMap<String, Vec<ServicePort>> = BTreeMap::new();
    for (i, p) in all_ports.iter().enumerate() {
        if let Some((vname, vport)) = &p.vip
            && *vname != name
        {
            vips.entry(vname.clone()).or_default().push(ServicePort {
                name: Some(p.name.clone().unwrap_or_else(|| format!("port{i}"))),
                port: *vport,
                target_port: Some(IntOrString::Int(p.container_port)),
                protocol: Some(p.protocol.clone()),
                ..Default::default()
            });
        }
    }
    for (vname, ports) in vips {
        if crate::ids::check_dns_label(&vname).is_ok() && vname.starts_with(|c: char| c.is_ascii_lowercase()) {
            let svc = Service {
                metadata: cx.meta(&vname),
                spec: Some(ServiceSpec { selector: Some(selector.clone()), ports: Some(ports), ..Default::default() }),
                ..Default::default()
            };
            exp.objects.push(to_value(&svc));
        } else {
            exp.warnings.push((
                "spec".into(),
                format!("VIP name `{vname}` is not a valid Service name; no Service is created for it"),
            ));
        }
    }
}
