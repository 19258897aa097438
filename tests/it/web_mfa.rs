//! Two-factor sign-in in the web app over HTTP, with browser cookies: the account page's
//! enrolment (QR code, secret, first code, recovery codes shown once), the sign-in form's second
//! step (no session cookie before it), and turning it off.

use axum::http::StatusCode;
use totp_rs::{Builder, Secret, Totp};

use crate::support::{PASSWORD, Reply, TestEnv};
use crate::web_support::{Browser, form, hidden, html};

/// The text of the first element `<tag class="class">` of a page.
fn element_text(reply: &Reply, open: &str) -> String {
    let page = html(reply);
    let start = page
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in {page}"))
        + open.len();
    let end = start + page[start..].find('<').unwrap();
    page[start..end].to_owned()
}

fn code_now(totp: &Totp, env: &TestEnv) -> String {
    totp.generate(u64::try_from(env.ctx.now().timestamp()).unwrap())
        .to_string()
}

/// A code that no step within the accepted skew of the clock's has.
fn wrong_code(totp: &Totp, env: &TestEnv) -> String {
    let now = env.ctx.now().timestamp();
    let valid: Vec<String> = [-30, 0, 30]
        .iter()
        .map(|offset| {
            totp.generate(u64::try_from(now + offset).unwrap())
                .to_string()
        })
        .collect();
    (0..4u32)
        .map(|n| format!("{n:06}"))
        .find(|candidate| !valid.contains(candidate))
        .unwrap()
}

#[tokio::test]
async fn the_account_page_turns_two_factor_sign_in_on_and_the_sign_in_form_asks_for_a_code() {
    let env = TestEnv::new().await;
    let email = TestEnv::email("web-mfa");
    env.register(&email).await;
    let (mut browser, signed_in) = Browser::sign_in_form(&env, &email).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let account = browser.get(&env, "/account").await;
    assert!(html(&account).contains("Two-factor authentication"));
    assert!(html(&account).contains("Set up an authenticator app"));

    let enrol = browser.post(&env, "/account/mfa/enrol", &[]).await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", html(&enrol));
    assert!(html(&enrol).contains("<svg"));
    let secret = element_text(&enrol, "<code class=\"secret\">");
    let totp = Builder::new()
        .with_secret(Secret::try_from_base32(&secret).unwrap())
        .build()
        .unwrap();
    let wrong = wrong_code(&totp, &env);
    let wrong = wrong.as_str();
    let refused = browser
        .post(&env, "/account/mfa/confirm", &[("code", wrong)])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        html(&refused)
    );
    let confirmed = browser
        .post(
            &env,
            "/account/mfa/confirm",
            &[("code", &code_now(&totp, &env))],
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", html(&confirmed));
    assert_eq!(html(&confirmed).matches("<li><code>").count(), 10);
    let account = browser.get(&env, "/account").await;
    assert!(html(&account).contains("Get new recovery codes"));

    // A new browser: the password leads to the second step, without a session cookie.
    env.clock.advance(chrono::Duration::seconds(30));
    let (mut phone, step) = Browser::sign_in_form(&env, &email).await;
    assert_eq!(step.status, StatusCode::OK, "{}", html(&step));
    assert!(!phone.cookies.contains_key("sesame-access"));
    let mfa_token = hidden(&step, "mfa_token");
    let fields = |code: String| {
        vec![
            ("mfa_token".to_owned(), mfa_token.clone()),
            ("code".to_owned(), code),
            ("next".to_owned(), "/account".to_owned()),
        ]
    };
    let as_refs = |fields: &[(String, String)]| {
        form(
            &fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let post = |body: String| {
        env.post("/sign-in/mfa")
            .raw(body)
            .header("content-type", "application/x-www-form-urlencoded")
    };
    let wrong = wrong_code(&totp, &env);
    let wrong = wrong.as_str();
    let refused = env.send(post(as_refs(&fields(wrong.to_owned())))).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        html(&refused).contains("the code is wrong"),
        "{}",
        html(&refused)
    );
    // The page keeps the login's token for another try.
    assert_eq!(hidden(&refused, "mfa_token"), mfa_token);
    let done = env
        .send(post(as_refs(&fields(code_now(&totp, &env)))))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", html(&done));
    phone.keep(&done);
    assert!(phone.cookies.contains_key("sesame-access"));
    let account = phone.get(&env, "/account").await;
    assert_eq!(account.status, StatusCode::OK);

    // Off with the password.
    let off = phone
        .post(&env, "/account/mfa/disable", &[("password", PASSWORD)])
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", html(&off));
    let account = phone.get(&env, "/account?done=mfa-off").await;
    assert!(html(&account).contains("Two-factor authentication is off."));
    let (_, direct) = Browser::sign_in_form(&env, &email).await;
    assert_eq!(direct.status, StatusCode::SEE_OTHER);
}
