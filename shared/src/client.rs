//! Who is calling: IP, device (parsed from the User-Agent) and location.
//!
//! The values feed session records and login history. Nothing here is invented: an unparseable
//! User-Agent gives `unknown`, a missing or untrusted geo header gives `None`.

use crate::domain::{Device, DeviceType, Location};

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

impl Location {
    /// Reads CloudFront's viewer headers (`CloudFront-Viewer-Country`, `-Country-Region`,
    /// `-City`). Only call this when the deployment sits behind CloudFront: otherwise clients
    /// could send the headers themselves.
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Location {
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
