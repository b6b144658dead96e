//! Email addresses, parsed once at the edge (SECURITY I4, O3). We accept exactly one plain
//! `local@domain` address: no display names, comments, quoted local parts, lists, whitespace or
//! control characters. The stored form keeps the local part's case; uniqueness and lookup use
//! the fully lowercased [`Email::normalized`] form.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    normalized: String,
}

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid("email", format!("email {why}"));
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(bad("is required"));
        }
        if trimmed.len() > MAX_LEN {
            return Err(bad("is too long"));
        }
        let (local, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| bad("must contain @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(bad("has an invalid local part"));
        }
        let local_ok = local
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"@,;:<>()[]\\\"".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(bad("has an invalid local part"));
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(bad("has an invalid domain"));
        }
        let address = format!("{local}@{domain}");
        let normalized = key(&address);
        Ok(Self {
            address,
            normalized,
        })
    }

    /// The address as the user typed it, trimmed, with the domain lowercased.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The lowercased form used for uniqueness and lookup.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// The form an address is unique and looked up in (per project): lowercased. Also for
/// addresses already stored, which were parsed when they were saved.
pub fn key(address: &str) -> String {
    address.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases_the_domain_i4() {
        let e = Email::parse("  Ann.Lee@Example.COM ").ok();
        assert_eq!(e.as_ref().map(Email::as_str), Some("Ann.Lee@example.com"));
        assert_eq!(
            e.as_ref().map(Email::normalized),
            Some("ann.lee@example.com")
        );
    }

    #[test]
    fn refuses_lists_display_names_and_control_characters_o3() {
        for bad in [
            "victim@x.com,attacker@y.com",
            "victim@x.com;attacker@y.com",
            "Victim <victim@x.com>",
            "victim@x.com\r\nBcc: attacker@y.com",
            "a b@x.com",
            "\"quoted\"@x.com",
            "no-at-sign",
            "@x.com",
            "a@",
            "a@localhost",
            "a@-x.com",
            "a@x..com",
            ".a@x.com",
            "a..b@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn accepts_plus_addressing_and_unicode_domains() {
        assert!(Email::parse("a+tag@x.co").is_ok());
        assert!(Email::parse("user@bücher.de").is_ok());
    }
}
