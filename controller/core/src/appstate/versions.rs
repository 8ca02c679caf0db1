//! The version history of an App (pure): the App operator records each version of an App's
//! spec as a ControllerRevision (docs/decisions/0046); these functions decide which records to
//! create, renumber and delete, and which version `dromos app rollback` goes back to.

/// Versions kept per App, the current one included (Kubernetes' `revisionHistoryLimit`
/// default).
pub const VERSION_HISTORY_LIMIT: usize = 10;
/// Label of a version record naming the App's version hash.
pub const VERSION_LABEL: &str = "dromos.io/version";

/// One recorded version: the ControllerRevision's name, the version hash and its revision
/// number (higher is newer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// ControllerRevision name.
    pub name: String,
    /// Version hash (`dromos_core::translate::app_version`).
    pub version: String,
    /// Revision number: the order in which versions became current.
    pub revision: i64,
}

/// What to write so the records end with `current` as the newest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryPlan {
    /// Record the current version with this revision number.
    pub create: Option<i64>,
    /// The current version is recorded but older: give this record this revision number.
    pub renumber: Option<(String, i64)>,
    /// Records beyond the limit, oldest first.
    pub delete: Vec<String>,
}

impl HistoryPlan {
    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.create.is_none() && self.renumber.is_none() && self.delete.is_empty()
    }
}

/// The name of the record of `version` of App `app`.
pub fn record_name(app: &str, version: &str) -> String {
    format!("{app}-{version}")
}

/// Decides the writes that make `current` the newest record and keep at most `limit`
/// records. Nothing when `current` already is the newest and none is over the limit, so a
/// reconcile that changes nothing writes nothing.
pub fn plan_history(recorded: &[Recorded], current: &str, limit: usize) -> HistoryPlan {
    let max = recorded.iter().map(|r| r.revision).max().unwrap_or(0);
    let mut plan = HistoryPlan::default();
    match recorded.iter().find(|r| r.version == current) {
        None => plan.create = Some(max + 1),
        Some(r) if r.revision < max || recorded.iter().filter(|o| o.revision == max).count() > 1 => {
            plan.renumber = Some((r.name.clone(), max + 1));
        }
        Some(_) => {}
    }
    let mut others: Vec<&Recorded> = recorded.iter().filter(|r| r.version != current).collect();
    others.sort_by_key(|r| (r.revision, r.name.clone()));
    let keep_others = limit.max(1) - 1;
    if others.len() > keep_others {
        plan.delete = others[..others.len() - keep_others].iter().map(|r| r.name.clone()).collect();
    }
    plan
}

/// The record `dromos app rollback` puts back: the one named by `to` (a version or a unique
/// prefix of one), else the newest that is not `current`. The error says what is recorded.
pub fn rollback_target<'a>(recorded: &'a [Recorded], current: &str, to: Option<&str>) -> Result<&'a Recorded, String> {
    let mut newest_first: Vec<&Recorded> = recorded.iter().collect();
    newest_first.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let listed = || newest_first.iter().map(|r| r.version.as_str()).collect::<Vec<_>>().join(", ");
    let target = match to {
        Some(to) => {
            if to.is_empty() || !to.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("`{to}` is not a version (a hexadecimal hash); recorded: {}", listed()));
            }
            let matching: Vec<&&Recorded> = newest_first.iter().filter(|r| r.version.starts_with(to)).collect();
            match matching.as_slice() {
                [one] => **one,
                [] => return Err(format!("no recorded version `{to}`; recorded (newest first): {}", listed())),
                _ => return Err(format!("`{to}` matches several versions: {}", listed())),
            }
        }
        None => match newest_first.iter().find(|r| r.version != current) {
            Some(r) => *r,
            None if recorded.is_empty() => {
                return Err("no version recorded yet (the App operator records each version it deploys)".into());
            }
            None => return Err(format!("no earlier version recorded; only the current one, {current}")),
        },
    };
    if target.version == current {
        return Err(format!("version {current} is the current version already"));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(version: &str, revision: i64) -> Recorded {
        Recorded { name: record_name("web", version), version: version.into(), revision }
    }

    #[test]
    fn history_records_new_versions_renumbers_returning_ones_and_stays_bounded() {
        assert_eq!(plan_history(&[], "aa", 3).create, Some(1));
        let two = [rec("aa", 1), rec("bb", 2)];
        assert!(plan_history(&two, "bb", 3).is_empty(), "the newest is current: nothing to write");
        let back = plan_history(&two, "aa", 3);
        assert_eq!(back.renumber, Some(("web-aa".into(), 3)));
        assert_eq!(back.create, None);
        let full = [rec("aa", 1), rec("bb", 2), rec("cc", 3)];
        let next = plan_history(&full, "dd", 3);
        assert_eq!((next.create, next.delete), (Some(4), vec!["web-aa".to_string()]));
        // Two records with the same number (written by two operators at once): renumbered.
        let tie = [rec("aa", 2), rec("bb", 2)];
        assert_eq!(plan_history(&tie, "aa", 3).renumber, Some(("web-aa".into(), 3)));
        // A limit of 1 keeps the current version only.
        assert_eq!(plan_history(&two, "bb", 1).delete, vec!["web-aa".to_string()]);
    }

    #[test]
    fn rollback_goes_to_the_previous_version_or_the_one_named() {
        let recs = [rec("aa11", 1), rec("bb22", 2), rec("cc33", 3)];
        assert_eq!(rollback_target(&recs, "cc33", None).unwrap().version, "bb22");
        assert_eq!(rollback_target(&recs, "cc33", Some("aa")).unwrap().version, "aa11");
        assert_eq!(rollback_target(&recs, "cc33", Some("aa11")).unwrap().version, "aa11");
        let e = rollback_target(&recs, "cc33", Some("dd")).unwrap_err();
        assert!(e.contains("no recorded version `dd`") && e.contains("cc33, bb22, aa11"), "{e}");
        assert!(rollback_target(&recs, "cc33", Some("cc")).unwrap_err().contains("current version already"));
        assert!(rollback_target(&recs, "cc33", Some("x/../y")).unwrap_err().contains("not a version"));
        let ambiguous = [rec("ab1", 1), rec("ab2", 2), rec("cc", 3)];
        assert!(rollback_target(&ambiguous, "cc", Some("ab")).unwrap_err().contains("several"));
        assert!(rollback_target(&[rec("aa", 1)], "aa", None).unwrap_err().contains("no earlier version"));
        assert!(rollback_target(&[], "aa", None).unwrap_err().contains("no version recorded"));
        // A spec edited outside the records (not recorded yet): the newest record is earlier.
        assert_eq!(rollback_target(&recs, "ffff", None).unwrap().version, "cc33");
    }
}
