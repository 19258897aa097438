//! Who is calling: IP, device (parsed from the User-Agent) and location.
//!
//! The values feed session records and login history. Nothing here is invented: an unparseable
//! User-Agent gives `unknown`, a missing or untrusted geo header gives `None`.
//!
//! Behind CloudFront, the viewer's IP and location come from CloudFront's headers. Anyone can
//! send those headers to the API directly, so they are believed only on a request that carries
//! the origin secret CloudFront adds as `x-origin-verify` ([`cloudfront_viewer`]).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::domain::{Device, DeviceType, Location};

/// The header CloudFront is configured to add with the shared origin secret.
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The caller's network and device context of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub device: Device,
    pub location: Location,
}

impl Device {
    /// Parses a User-Agent header with `woothee`. Tablets are told apart from phones by the
    /// markers woothee leaves in its OS name and by Android's missing "Mobile" token.
    pub fn from_user_agent(user_agent: Option<&str>) -> Device {
        let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
        let Some(ua) = parsed else {
            return Device {
                device_type: DeviceType::Unknown,
                device_name: "Unknown device".into(),
                browser: "unknown".into(),
                os: "unknown".into(),
            };
        };
        let raw = user_agent.unwrap_or_default();
        let is_tablet = ua.os == "iPad" || (ua.os == "Android" && !raw.contains("Mobile"));
        let device_type = match ua.category {
            "crawler" => DeviceType::Bot,
            "pc" => DeviceType::Desktop,
            "smartphone" | "mobilephone" if is_tablet => DeviceType::Tablet,
            "smartphone" | "mobilephone" => DeviceType::Mobile,
            _ => DeviceType::Unknown,
        };
        let known =
            |value: &str| (value != woothee::woothee::VALUE_UNKNOWN).then(|| value.to_owned());
        let browser = known(ua.name).unwrap_or_else(|| "unknown".into());
        let os = known(ua.os).unwrap_or_else(|| "unknown".into());
        let device_name = match device_type {
            DeviceType::Desktop => format!("{os} computer"),
            DeviceType::Mobile | DeviceType::Tablet => os.clone(),
            DeviceType::Bot => browser.clone(),
            DeviceType::Unknown => "Unknown device".into(),
        };
        Device {
            device_type,
            device_name,
            browser,
            os,
        }
    }
}

/// What CloudFront reports about the viewer of a request it forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// From `CloudFront-Viewer-Address`; `None` when absent or malformed.
    pub ip: Option<IpAddr>,
    pub location: Location,
}

/// CloudFront's viewer headers, if and only if the request carries `x-origin-verify` equal to
/// `origin_secret` (compared in constant time). `None` means the headers must be ignored: the
/// request did not provably come through CloudFront.
pub fn cloudfront_viewer(headers: &HeaderMap, origin_secret: &SecretString) -> Option<Viewer> {
    let presented = headers.get(ORIGIN_VERIFY_HEADER)?.as_bytes();
    let expected = origin_secret.expose_secret().as_bytes();
    let matches = presented.len() == expected.len() && bool::from(presented.ct_eq(expected));
    matches.then(|| Viewer {
        ip: headers
            .get("cloudfront-viewer-address")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_viewer_address),
        location: Location::from_headers(headers),
    })
}

/// Parses `CloudFront-Viewer-Address`, an IP and the viewer's source port: `198.51.100.10:46532`,
/// `[2001:db8::1]:46532`, or the IPv6 form without brackets (`2001:db8::1:46532`), where the
/// last colon separates the port.
fn parse_viewer_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(address) = raw.parse::<SocketAddr>() {
        return Some(address.ip());
    }
    let (ip, port) = raw.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse().ok()
}

impl Location {
    /// Reads CloudFront's viewer headers (`CloudFront-Viewer-Country`, `-Country-Region`,
    /// `-City`). Only for requests [`cloudfront_viewer`] accepted: otherwise clients could send
    /// the headers themselves.
    fn from_headers(headers: &HeaderMap) -> Location {
        let read = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 100)
                .map(str::to_owned)
        };
        Location {
            country: read("cloudfront-viewer-country"),
            region: read("cloudfront-viewer-country-region"),
            city: read("cloudfront-viewer-city"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_viewer_addresses_of_both_families() {
        let cases = [
            ("198.51.100.10:46532", Some("198.51.100.10")),
            ("[2001:db8::1]:46532", Some("2001:db8::1")),
            ("2001:db8::1:46532", Some("2001:db8::1")),
            ("198.51.100.10", None),
            ("not an address", None),
        ];
        for (raw, ip) in cases {
            let parsed = parse_viewer_address(raw);
            assert_eq!(parsed, ip.map(|ip| ip.parse().unwrap()), "{raw}");
        }
    }

    #[test]
    fn viewer_headers_need_the_origin_secret() {
        let secret = SecretString::from("origin-secret");
        let mut headers = HeaderMap::new();
        headers.insert(
            "cloudfront-viewer-address",
            "198.51.100.10:1".parse().unwrap(),
        );
        headers.insert("cloudfront-viewer-country", "NL".parse().unwrap());
        assert_eq!(cloudfront_viewer(&headers, &secret), None);
        headers.insert(ORIGIN_VERIFY_HEADER, "origin-secreT".parse().unwrap());
        assert_eq!(cloudfront_viewer(&headers, &secret), None);
        headers.insert(ORIGIN_VERIFY_HEADER, "origin-secret".parse().unwrap());
        let viewer = cloudfront_viewer(&headers, &secret).unwrap();
        assert_eq!(viewer.ip, Some("198.51.100.10".parse().unwrap()));
        assert_eq!(viewer.location.country.as_deref(), Some("NL"));
    }

    #[test]
    fn parses_common_browsers() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                DeviceType::Desktop,
                "Chrome",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                DeviceType::Mobile,
                "Safari",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                DeviceType::Tablet,
                "Safari",
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                DeviceType::Bot,
                "Googlebot",
            ),
        ];
        for (ua, device_type, browser) in cases {
            let device = Device::from_user_agent(Some(ua));
            assert_eq!(device.device_type, device_type, "{ua}");
            assert_eq!(device.browser, browser, "{ua}");
        }
        assert_eq!(
            Device::from_user_agent(None).device_type,
            DeviceType::Unknown
        );
        assert_eq!(
            Device::from_user_agent(Some("curl/8.0")).device_type,
            DeviceType::Unknown
        );
    }
}
