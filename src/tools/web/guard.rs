//! The SSRF guard: webfetch may not reach loopback, private, link-local or metadata
//! addresses unless `web.allowHosts` lets it.
//!
//! Host names are checked after DNS resolution, inside the HTTP client's resolver, so the
//! address checked is the address connected to (no DNS rebinding window) and every redirect
//! hop is checked again. Address literals never reach a resolver, so [`AddressPolicy::check_url`]
//! checks them before the request and in the redirect policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} resolves to {ip}, a {why} address; webfetch does not reach those unless \
     `web.allowHosts` lists the host or its address"
)]
pub struct Blocked {
    pub host: String,
    pub ip: IpAddr,
    pub why: &'static str,
}

/// Which hosts and addresses are allowed despite being internal.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    names: Vec<String>,
    nets: Vec<IpNet>,
}

impl AddressPolicy {
    /// From `web.allowHosts`: host names, addresses or CIDR ranges (already validated).
    pub fn new(allow_hosts: &[String]) -> Self {
        let mut policy = Self::default();
        for entry in allow_hosts {
            let entry = entry.trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else {
                policy
                    .names
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        policy
    }

    fn name_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.contains(&host)
    }

    /// `Ok` when `ip` (reached as `host`) may be connected to.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), Blocked> {
        let Some(why) = internal_kind(ip) else {
            return Ok(());
        };
        if self.name_allowed(host) || self.nets.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        Err(Blocked {
            host: host.to_string(),
            ip,
            why,
        })
    }

    /// Checks a URL whose host is an address literal; names are checked at resolution.
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(&format!("[{ip}]"), IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }

    /// Keeps the addresses that may be connected to; an error when none is left.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Blocked> {
        let mut first_blocked = None;
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.check_ip(host, a.ip()) {
                Ok(()) => true,
                Err(b) => {
                    first_blocked.get_or_insert(b);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_blocked) {
            (true, Some(blocked)) => Err(blocked),
            _ => Ok(allowed),
        }
    }
}

/// The kind of internal address `ip` is, or `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        // 169.254.169.254 is the metadata service of most clouds; name it for the user.
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata",
        _ if ip.is_link_local() => "link-local",
        _ if ip.is_private() => "private",
        _ if a == 100 && (64..128).contains(&b) => "carrier-grade NAT",
        // Alibaba Cloud's metadata service sits in the CGNAT range; covered above.
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol assignment",
        // The deprecated 6to4 relay anycast prefix: relays into other networks.
        _ if a == 192 && b == 88 && c == 99 => "6to4 relay",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ if ip.is_documentation() => "documentation",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address dressed as IPv6 is judged as the IPv4 address it carries.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address too.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    if seg[0] == 0x2002 {
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    Some(match () {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        // IPv4-compatible (deprecated) ::a.b.c.d.
        _ if seg[0..6] == [0, 0, 0, 0, 0, 0] => "IPv4-compatible",
        _ if (seg[0] & 0xfe00) == 0xfc00 => "private (unique local)",
        // Local-use NAT64 (RFC 8215): translates into the site's own IPv4 networks.
        _ if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2] == 1 => "local-use NAT64",
        _ if seg[0] == 0x100 && seg[1..4] == [0, 0, 0] => "discard-only",
        _ if (seg[0] & 0xffc0) == 0xfe80 => "link-local",
        _ if (seg[0] & 0xffc0) == 0xfec0 => "site-local",
        _ if (seg[0] & 0xff00) == 0xff00 => "multicast",
        _ if seg[0] == 0x2001 && seg[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

/// The HTTP client's resolver: system DNS, then the policy.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = policy.filter(&host, addrs)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_ranges_are_named() {
        for (addr, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("100.100.100.200", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata"),
            ("64:ff9b:1::a00:1", "local-use NAT64"),
            ("192.88.99.1", "6to4 relay"),
            ("100::1", "discard-only"),
            ("2002:c0a8:0101::1", "private"),
            ("fd00:ec2::254", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(internal_kind(ip(addr)), Some(why), "{addr}");
        }
        for public in ["93.184.215.14", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert_eq!(internal_kind(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn allow_list_takes_addresses_ranges_and_names() {
        let policy = AddressPolicy::new(&[
            "127.0.0.1".into(),
            "10.0.0.0/8".into(),
            "Intranet.Local.".into(),
            "[::1]".into(),
        ]);
        assert!(policy.check_ip("x", ip("127.0.0.1")).is_ok());
        assert!(policy.check_ip("x", ip("127.0.0.2")).is_err());
        assert!(policy.check_ip("x", ip("10.9.9.9")).is_ok());
        assert!(policy.check_ip("x", ip("::1")).is_ok());
        assert!(policy.check_ip("intranet.local", ip("192.168.0.9")).is_ok());
        let blocked = policy.check_ip("other", ip("192.168.0.9")).unwrap_err();
        assert_eq!(blocked.why, "private");
        assert!(blocked.to_string().contains("web.allowHosts"), "{blocked}");
    }

    #[test]
    fn filtering_keeps_public_addresses_and_fails_when_none_is_left() {
        let policy = AddressPolicy::default();
        let a = |s: &str| SocketAddr::new(ip(s), 80);
        let kept = policy
            .filter("mixed", vec![a("10.0.0.1"), a("93.184.215.14")])
            .unwrap();
        assert_eq!(kept, vec![a("93.184.215.14")]);
        let err = policy
            .filter("inside", vec![a("10.0.0.1"), a("::1")])
            .unwrap_err();
        assert_eq!(err.ip, ip("10.0.0.1"));
        assert!(policy.filter("nothing", vec![]).unwrap().is_empty());
    }

    #[test]
    fn address_literal_urls_are_checked() {
        let policy = AddressPolicy::default();
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(policy.check_url(&url("http://127.0.0.1:8080/")).is_err());
        assert!(policy.check_url(&url("http://[::1]/")).is_err());
        assert!(policy.check_url(&url("http://0x7f.1/")).is_err());
        assert!(policy.check_url(&url("http://2130706433/")).is_err());
        assert!(policy.check_url(&url("http://example.com/")).is_ok());
        assert!(policy.check_url(&url("http://8.8.8.8/")).is_ok());
    }
}
