use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::tests::{call, next, send};
use crate::ProviderKind;
use crate::tests::start;

fn web_app(label: &str, redirect: &str) -> Value {
    json!({
        "name": "oidc_client",
        "label": label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": { "oauthClient": { "token_endpoint_auth_method": "client_secret_basic" } },
        "settings": { "oauthClient": {
            "application_type": "web",
            "redirect_uris": [format!("{redirect}/api/auth/callback/okta")],
            "post_logout_redirect_uris": [redirect],
            "response_types": ["code"],
            "grant_types": ["authorization_code"],
        } },
    })
}

#[tokio::test]
async fn groups_list_everyone_and_seeded_groups_with_members() {
    let emu = start(ProviderKind::Okta, 30, None).await;
    let (status, _, groups) = send(&emu, Method::GET, "/api/v1/groups", None).await;
    assert_eq!(status, StatusCode::OK);
    let groups = groups.as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["profile"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Everyone", "Engineering", "Sales"]);
    let everyone = &groups[0];
    assert_eq!(everyone["type"], "BUILT_IN");
    assert_eq!(
        everyone["profile"]["description"],
        "All users in your organization"
    );
    assert_eq!(everyone["objectClass"], json!(["okta:user_group"]));
    assert!(everyone["id"].as_str().unwrap().starts_with("00g"));
    assert_eq!(groups[1]["type"], "OKTA_GROUP");

    // `q` is a case-insensitive prefix of the name; `filter` and `search`
    // take Okta's expressions.
    let (_, _, found) = send(&emu, Method::GET, "/api/v1/groups?q=eng", None).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["profile"]["name"], "Engineering");
    let (_, _, built_in) = send(
        &emu,
        Method::GET,
        "/api/v1/groups?filter=type%20eq%20%22BUILT_IN%22",
        None,
    )
    .await;
    assert_eq!(built_in.as_array().unwrap().len(), 1);
    let (status, _, bad) = send(
        &emu,
        Method::GET,
        "/api/v1/groups?search=profile.city%20eq%20%22x%22",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["errorCode"], "E0000031");
    let (_, headers, page) = send(&emu, Method::GET, "/api/v1/groups?limit=2", None).await;
    assert_eq!(page.as_array().unwrap().len(), 2);
    let (_, _, rest) = send(&emu, Method::GET, &next(&headers).unwrap(), None).await;
    assert_eq!(rest[0]["profile"]["name"], "Sales");

    // Everyone holds every user; Engineering every third.
    let everyone_id = everyone["id"].as_str().unwrap();
    let url = format!("/api/v1/groups/{everyone_id}/users");
    let (_, _, all) = send(&emu, Method::GET, &url, None).await;
    assert_eq!(all.as_array().unwrap().len(), 30);
    let engineering = groups[1]["id"].as_str().unwrap();
    let url = format!("/api/v1/groups/{engineering}/users");
    let (_, _, members) = send(&emu, Method::GET, &url, None).await;
    assert_eq!(members.as_array().unwrap().len(), 10);

    // Members can be added to an OKTA_GROUP, not to Everyone.
    let outsider = emu.user_ids()[1].clone();
    let add = format!("/api/v1/groups/{engineering}/users/{outsider}");
    let (status, _, _) = send(&emu, Method::PUT, &add, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, members) = send(&emu, Method::GET, &url, None).await;
    assert_eq!(members.as_array().unwrap().len(), 11);
    let (status, _, _) = send(
        &emu,
        Method::PUT,
        &format!("/api/v1/groups/{everyone_id}/users/{outsider}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, missing) = send(&emu, Method::GET, "/api/v1/groups/00gnope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["errorCode"], "E0000007");
    assert_eq!(
        missing["errorSummary"],
        "Not found: Resource not found: 00gnope (UserGroup)"
    );
}

#[tokio::test]
async fn an_oidc_web_app_is_created_listed_assigned_and_shown_without_its_secret() {
    let emu = start(ProviderKind::Okta, 12, None).await;
    let (status, _, app) = send(
        &emu,
        Method::POST,
        "/api/v1/apps?activate=true",
        Some(web_app("idsync okta", "http://localhost:3000")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let id = app["id"].as_str().unwrap();
    assert!(id.starts_with("0oa"));
    assert_eq!(app["status"], "ACTIVE");
    assert_eq!(app["signOnMode"], "OPENID_CONNECT");
    let oauth = &app["credentials"]["oauthClient"];
    assert_eq!(oauth["client_id"], id, "client_id defaults to the app id");
    let secret = oauth["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert_eq!(oauth["token_endpoint_auth_method"], "client_secret_basic");
    let settings = &app["settings"]["oauthClient"];
    assert_eq!(
        settings["redirect_uris"],
        json!(["http://localhost:3000/api/auth/callback/okta"])
    );
    assert_eq!(
        settings["post_logout_redirect_uris"],
        json!(["http://localhost:3000"])
    );
    assert_eq!(settings["grant_types"], json!(["authorization_code"]));
    assert_eq!(settings["application_type"], "web");

    // Read and list never show the secret; the secrets endpoint does.
    let (_, _, read) = send(&emu, Method::GET, &format!("/api/v1/apps/{id}"), None).await;
    assert!(
        read["credentials"]["oauthClient"]
            .get("client_secret")
            .is_none()
    );
    assert_eq!(read["credentials"]["oauthClient"]["client_id"], id);
    let (_, _, listed) = send(&emu, Method::GET, "/api/v1/apps?q=idsync%20ok", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0]["credentials"]["oauthClient"]
            .get("client_secret")
            .is_none()
    );
    let (_, _, none) = send(&emu, Method::GET, "/api/v1/apps?q=other", None).await;
    assert_eq!(none, json!([]));
    let secrets_url = format!("/api/v1/apps/{id}/credentials/secrets");
    let (_, _, secrets) = send(&emu, Method::GET, &secrets_url, None).await;
    assert_eq!(secrets.as_array().unwrap().len(), 1);
    assert_eq!(secrets[0]["status"], "ACTIVE");
    assert_eq!(secrets[0]["client_secret"], secret);

    // Not assigned yet: nobody may sign in.
    let client = emu.oidc_client(id).unwrap();
    assert!(client.secret_matches(&secret) && !client.secret_matches("wrong"));
    let users = emu.user_ids();
    assert!(!emu.may_sign_in(&client, &users[0]));

    // Assigned to Engineering: its members may, others not.
    let (_, _, found) = send(&emu, Method::GET, "/api/v1/groups?q=Engineering", None).await;
    let engineering = found[0]["id"].as_str().unwrap();
    let assign = format!("/api/v1/apps/{id}/groups/{engineering}");
    let (status, _, assignment) = send(&emu, Method::PUT, &assign, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assignment["id"], engineering);
    assert_eq!(assignment["priority"], 0);
    assert!(
        assignment["_links"]["group"]["href"]
            .as_str()
            .unwrap()
            .ends_with(engineering)
    );
    let client = emu.oidc_client(id).unwrap();
    assert!(emu.may_sign_in(&client, &users[0]));
    assert!(!emu.may_sign_in(&client, &users[1]));
    let (_, _, assigned) = send(
        &emu,
        Method::GET,
        &format!("/api/v1/apps/{id}/groups"),
        None,
    )
    .await;
    assert_eq!(assigned.as_array().unwrap().len(), 1);

    // Assigned to Everyone: every user may; a deactivated app lets nobody.
    let (_, _, found) = send(&emu, Method::GET, "/api/v1/groups?q=Everyone", None).await;
    let everyone = found[0]["id"].as_str().unwrap();
    let (status, _, _) = send(
        &emu,
        Method::PUT,
        &format!("/api/v1/apps/{id}/groups/{everyone}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let client = emu.oidc_client(id).unwrap();
    assert!(emu.may_sign_in(&client, &users[1]));
    assert!(!emu.may_sign_in(&client, "00unobody"));
    let deactivate = format!("/api/v1/apps/{id}/lifecycle/deactivate");
    let (status, _, _) = send(&emu, Method::POST, &deactivate, None).await;
    assert_eq!(status, StatusCode::OK);
    let client = emu.oidc_client(id).unwrap();
    assert!(!client.active && !emu.may_sign_in(&client, &users[1]));

    // Unknown group, app: Okta's 404s.
    let (status, _, missing) = send(
        &emu,
        Method::PUT,
        &format!("/api/v1/apps/{id}/groups/00gnope"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["errorCode"], "E0000007");
    let (status, _, _) = send(&emu, Method::GET, "/api/v1/apps/0oanope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn replacing_an_app_changes_its_redirects_and_keeps_its_client() {
    let emu = start(ProviderKind::Okta, 3, None).await;
    let (_, _, app) = send(
        &emu,
        Method::POST,
        "/api/v1/apps",
        Some(web_app("quotes", "http://localhost:3000")),
    )
    .await;
    let id = app["id"].as_str().unwrap();
    let secret = app["credentials"]["oauthClient"]["client_secret"].clone();
    let (status, _, replaced) = send(
        &emu,
        Method::PUT,
        &format!("/api/v1/apps/{id}"),
        Some(web_app("quotes", "https://quotes.example.com")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["settings"]["oauthClient"]["redirect_uris"],
        json!(["https://quotes.example.com/api/auth/callback/okta"])
    );
    assert_eq!(replaced["credentials"]["oauthClient"]["client_id"], id);
    assert_eq!(
        replaced["credentials"]["oauthClient"]["client_secret"],
        secret
    );
    assert_eq!(replaced["created"], app["created"]);
    let client = emu.oidc_client(id).unwrap();
    assert_eq!(
        client.post_logout_redirect_uris,
        ["https://quotes.example.com"]
    );

    // A client id cannot change; an active app cannot be deleted.
    let mut other = web_app("quotes", "https://quotes.example.com");
    other["credentials"]["oauthClient"]["client_id"] = json!("another-client");
    let (status, _, refused) = send(
        &emu,
        Method::PUT,
        &format!("/api/v1/apps/{id}"),
        Some(other),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["errorCode"], "E0000001");
    let (status, _, _) = send(&emu, Method::DELETE, &format!("/api/v1/apps/{id}"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_app_definitions_get_okta_validation_errors() {
    let emu = start(ProviderKind::Okta, 1, None).await;
    let mut no_redirects = web_app("x", "http://localhost:3000");
    no_redirects["settings"]["oauthClient"]["redirect_uris"] = json!([]);
    let mut bad_grant = web_app("x", "http://localhost:3000");
    bad_grant["settings"]["oauthClient"]["grant_types"] = json!(["magic"]);
    let mut short_secret = web_app("x", "http://localhost:3000");
    short_secret["credentials"]["oauthClient"]["client_secret"] = json!("short");
    let mut no_label = web_app("x", "http://localhost:3000");
    no_label["label"] = json!("");
    for (body, field) in [
        (no_redirects, "redirect_uris"),
        (bad_grant, "grant_types"),
        (short_secret, "client_secret"),
        (no_label, "label"),
    ] {
        let (status, _, error) = send(&emu, Method::POST, "/api/v1/apps", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(error["errorCode"], "E0000001");
        assert_eq!(
            error["errorSummary"],
            format!("Api validation failed: {field}")
        );
    }
    let (status, _, _) = call(&emu, Method::GET, "/api/v1/apps", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, _, apps) = send(&emu, Method::GET, "/api/v1/apps", None).await;
    assert_eq!(apps, json!([]), "nothing was created");
}

#[tokio::test]
async fn a_status_change_moves_last_updated_as_in_real_orgs() {
    let emu = start(ProviderKind::Okta, 40, None).await;
    let active: Vec<String> = emu
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let since = emu.user(&active[0]).unwrap()["lastUpdated"].clone();
    for (id, operation) in [(&active[0], "suspend"), (&active[1], "deactivate")] {
        let url = format!("/api/v1/users/{id}/lifecycle/{operation}");
        let (status, _, _) = send(&emu, Method::POST, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        let user = emu.user(id).unwrap();
        assert_eq!(user["statusChanged"], user["lastUpdated"], "{operation}");
    }
    // So the incremental listing finds both.
    let filter = format!("lastUpdated gt \"{}\"", since.as_str().unwrap());
    let url = format!("/api/v1/users?filter={}", super::paging::encode(&filter));
    let (_, _, changed) = send(&emu, Method::GET, &url, None).await;
    let ids: Vec<&str> = changed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&active[0].as_str()) && ids.contains(&active[1].as_str()),
        "{ids:?}"
    );
}
