//! Where the link-preview fetcher may connect (server-side request forgery
//! guard). A message's link is chosen by any member, so without this the
//! server could be made to fetch its own admin ports, the cloud metadata
//! service (169.254.169.254) or anything on the private network.
//!
//! It owns: which schemes, ports, hosts and addresses are allowed, and the
//! DNS resolver handed to reqwest. The resolver returns only addresses it
//! has checked, so reqwest connects to exactly those — there is no second
//! lookup an attacker's DNS could answer differently (DNS rebinding).
//! IP-literal hosts never reach a resolver, so `check_url` checks them
//! before every request (the first and each redirect).
//!
//! It must never: let a name through because one of its addresses is
//! public while another is not, or treat an IPv4 address written as IPv6
//! (`::ffff:127.0.0.1`) differently from the address itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL carries credentials")]
    Credentials,
    #[error("port {0} is not allowed")]
    Port(u16),
    #[error("{0} is an internal domain")]
    InternalDomain(String),
    #[error("address {0} is not public")]
    Address(IpAddr),
    #[error("{0} does not resolve")]
    Unresolved(String),
}

/// An address range (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// Whether a preview may be fetched from this IPv4 address: not "this
/// network"/unspecified, private, loopback, CGNAT, link-local (the cloud
/// metadata service), protocol-assignment, documentation, benchmarking,
/// multicast, reserved or broadcast.
pub fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0                              // 0.0.0.0/8, incl. unspecified
        || a == 10                                    // private
        || (a == 100 && (64..=127).contains(&b))      // CGNAT 100.64/10
        || a == 127                                   // loopback
        || (a == 169 && b == 254)                     // link-local, metadata
        || (a == 172 && (16..=31).contains(&b))       // private
        || (a == 192 && b == 0 && c == 0)             // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)             // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)           // 6to4 relay anycast
        || (a == 192 && b == 168)                     // private
        || (a == 198 && (b == 18 || b == 19))         // benchmarking
        || (a == 198 && b == 51 && c == 100)          // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)           // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !refused
}

/// Whether a preview may be fetched from this IPv6 address: only global
/// unicast (2000::/3) outside documentation and tunnelling prefixes; an
/// address that embeds an IPv4 address (mapped, NAT64, 6to4) is judged by
/// that address.
pub fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address is the target.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded(s[6], s[7]));
    }
    // 6to4 2002::/16 carries the IPv4 address in the next 32 bits.
    if s[0] == 0x2002 {
        return is_public_v4(embedded(s[1], s[2]));
    }
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    // Teredo (2001::/32) hides its target; ORCHIDs and benchmarking too.
    let tunnel_or_special = s[0] == 0x2001 && (s[1] == 0 || (0x0002..=0x002f).contains(&s[1]));
    global_unicast && !documentation && !tunnel_or_special
}

/// `is_public_v4` / `is_public_v6` for either family. Everything outside
/// 2000::/3 is refused, which covers ::, ::1, IPv4-compatible ::a.b.c.d,
/// ULA fc00::/7, link-local fe80::/10, site-local and multicast ff00::/8.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// What the fetcher may reach.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Ports allowed in URLs (the scheme's default port counts as given).
    pub ports: Vec<u16>,
    /// Hosts never fetched, with their subdomains (lower case, no final dot).
    pub skip_domains: Vec<String>,
    /// Ranges allowed although not public (tests, an intranet).
    pub allow: Vec<Cidr>,
}

impl Policy {
    /// Whether the fetcher may connect to `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = ip.to_canonical();
        if is_public(ip) || self.allow.iter().any(|c| c.contains(ip)) {
            Ok(())
        } else {
            Err(Refusal::Address(ip))
        }
    }

    /// Scheme, credentials, port, internal domains and IP-literal hosts of
    /// one request's URL. Names are checked when they resolve.
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::Credentials);
        }
        let port = url.port_or_known_default().ok_or(Refusal::NoHost)?;
        if !self.ports.contains(&port) {
            return Err(Refusal::Port(port));
        }
        // The url crate has already turned 2130706433, 0x7f.1 and 0177.0.0.1
        // into 127.0.0.1 for http(s) URLs, so literals are judged as the
        // address a connection would reach.
        match url.host().ok_or(Refusal::NoHost)? {
            Host::Ipv4(v4) => self.check_ip(IpAddr::V4(v4)),
            Host::Ipv6(v6) => self.check_ip(IpAddr::V6(v6)),
            Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                let internal = self
                    .skip_domains
                    .iter()
                    .any(|s| d == *s || d.ends_with(&format!(".{s}")));
                if internal {
                    Err(Refusal::InternalDomain(d))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Resolves a name and checks every address; one refused address
    /// refuses the name.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Refusal> {
        let host = host.trim_end_matches('.');
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| Refusal::Unresolved(host.to_owned()))?
            .collect();
        if addrs.is_empty() {
            return Err(Refusal::Unresolved(host.to_owned()));
        }
        for a in &addrs {
            self.check_ip(a.ip())?;
        }
        Ok(addrs)
    }
}

/// reqwest's resolver: checked addresses only, so the connection goes to
/// an address this module approved.
pub struct CheckedResolver {
    policy: Arc<Policy>,
}

impl CheckedResolver {
    pub fn new(policy: Arc<Policy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match policy.resolve(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs),
                Err(e) => {
                    tracing::debug!(%host, refusal = %e, "link preview target refused");
                    Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    fn policy() -> Policy {
        Policy {
            ports: vec![80, 443],
            skip_domains: vec!["portal.example.pl".into()],
            allow: Vec::new(),
        }
    }

    fn url_refusal(p: &Policy, u: &str) -> Option<Refusal> {
        p.check_url(&Url::parse(u).unwrap()).err()
    }

    #[test]
    fn refused_ipv4_ranges() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.1.2.3",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(v4(a)), "{a} should be refused");
        }
    }

    #[test]
    fn public_ipv4_neighbours_of_refused_ranges_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.1.1",
            "192.169.0.1",
            "193.0.0.1",
            "223.255.255.254",
        ] {
            assert!(is_public(v4(a)), "{a} should be allowed");
        }
    }

    #[test]
    fn refused_ipv6_ranges() {
        for a in [
            "::",
            "::1",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff05::2",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "64:ff9b:1::1",
        ] {
            assert!(!is_public(v6(a)), "{a} should be refused");
        }
        for a in [
            "2a00:1450:4001:80b::200e",
            "2606:4700::1111",
            "2001:4860::8888",
        ] {
            assert!(is_public(v6(a)), "{a} should be allowed");
        }
    }

    #[test]
    fn ipv4_mapped_and_embedded_forms_are_judged_by_the_ipv4_address() {
        for a in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:172.16.0.1",
            "::ffff:192.168.0.1",
            "::ffff:169.254.169.254",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::ffff:224.0.0.1",
            "::ffff:255.255.255.255",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(v6(a)), "{a} should be refused");
        }
        for a in ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(is_public(v6(a)), "{a} should be allowed");
        }
        let p = policy();
        assert_eq!(
            p.check_ip(v6("::ffff:127.0.0.1")),
            Err(Refusal::Address(v4("127.0.0.1")))
        );
    }

    #[test]
    fn allow_list_admits_exactly_its_ranges() {
        let mut p = policy();
        p.allow = vec![
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("10.1.0.0/16").unwrap(),
            Cidr::parse("fd00::/8").unwrap(),
        ];
        assert!(p.check_ip(v4("127.0.0.1")).is_ok());
        assert!(p.check_ip(v6("::ffff:127.0.0.1")).is_ok());
        assert!(p.check_ip(v4("127.0.0.2")).is_err());
        assert!(p.check_ip(v4("10.1.200.3")).is_ok());
        assert!(p.check_ip(v4("10.2.0.1")).is_err());
        assert!(p.check_ip(v6("fd12::1")).is_ok());
        assert!(p.check_ip(v6("fc00::1")).is_err());
        assert!(p.check_ip(v6("::1")).is_err());
    }

    #[test]
    fn cidr_parsing() {
        assert!(Cidr::parse("10.0.0.0/8").is_ok());
        assert!(Cidr::parse("::1").is_ok());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("fd00::/129").is_err());
        assert!(Cidr::parse("intranet").is_err());
        assert!(Cidr::parse("10.0.0.0/x").is_err());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(v4("8.8.8.8")));
        assert!(
            Cidr::parse("172.16.0.0/12")
                .unwrap()
                .contains(v4("172.31.1.1"))
        );
        assert!(
            !Cidr::parse("172.16.0.0/12")
                .unwrap()
                .contains(v4("172.32.1.1"))
        );
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().contains(v6("fd00::1")));
    }

    #[test]
    fn ip_literals_in_every_spelling_are_checked() {
        let mut p = policy();
        p.ports.push(8080);
        for u in [
            "http://127.0.0.1/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.1/",
            "https://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "HTTP://10.0.0.1./",
        ] {
            assert!(
                matches!(url_refusal(&p, u), Some(Refusal::Address(_))),
                "{u}: {:?}",
                url_refusal(&p, u)
            );
        }
        // The url crate normalizes the alternative spellings of 127.0.0.1.
        for u in [
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
        ] {
            assert_eq!(Url::parse(u).unwrap().host_str(), Some("127.0.0.1"));
        }
    }

    #[test]
    fn schemes_ports_credentials_and_internal_domains() {
        let p = policy();
        assert_eq!(
            url_refusal(&p, "ftp://example.com/"),
            Some(Refusal::Scheme("ftp".into()))
        );
        assert!(matches!(
            url_refusal(&p, "file:///etc/passwd"),
            Some(Refusal::Scheme(_))
        ));
        assert_eq!(
            url_refusal(&p, "http://example.com:8080/"),
            Some(Refusal::Port(8080))
        );
        assert_eq!(
            url_refusal(&p, "http://example.com:22/"),
            Some(Refusal::Port(22))
        );
        assert_eq!(
            url_refusal(&p, "http://user:pw@example.com/"),
            Some(Refusal::Credentials)
        );
        assert!(matches!(
            url_refusal(&p, "https://portal.example.pl/wiadomosci"),
            Some(Refusal::InternalDomain(_))
        ));
        assert!(matches!(
            url_refusal(&p, "https://API.Portal.Example.PL./x"),
            Some(Refusal::InternalDomain(_))
        ));
        assert_eq!(url_refusal(&p, "https://example.com/"), None);
        assert_eq!(url_refusal(&p, "http://example.com:80/"), None);
        assert_eq!(url_refusal(&p, "https://notportal.example.pl/"), None);
        assert_eq!(url_refusal(&p, "https://8.8.8.8/"), None);
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let p = policy();
        match p.resolve("localhost").await {
            Err(Refusal::Address(ip)) => assert!(ip.is_loopback(), "{ip}"),
            other => panic!("localhost: {other:?}"),
        }
        assert!(p.resolve("localhost.").await.is_err());
        let mut allowed = policy();
        allowed.allow = vec![
            Cidr::parse("127.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        let addrs = allowed.resolve("localhost").await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
