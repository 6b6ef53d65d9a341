//! Routing and answering the SCIM endpoints under `/scim/{connection}/v2`.

use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::discovery::{self, LIST_RESPONSE, MAX_RESULTS};
use super::error::ScimError;
use super::path;
use super::projection::Projection;
use super::resource::{self, IdSource};
use super::response;
use super::schema::{GROUP_TYPE, ResourceType, USER_TYPE};
use super::{Connection, patch};
use crate::served::{
    Condition, Query, Resource, ResourceKind, ResourceStore, ServedRequest, ServedResponse, Stored,
};

/// The default page size of a list.
const DEFAULT_COUNT: u64 = 100;

pub async fn handle(
    conn: &Connection,
    request: ServedRequest<'_>,
    store: &dyn ResourceStore,
) -> ServedResponse {
    if !conn.token.verify(request.headers) {
        return ScimError::unauthorized().response();
    }
    let call = Call {
        request,
        store,
        id_source: conn.id_source,
        params: request
            .query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
    };
    match call.route().await {
        Ok(answer) => answer,
        Err(e) => e.response(),
    }
}

struct Call<'a> {
    request: ServedRequest<'a>,
    store: &'a dyn ResourceStore,
    id_source: IdSource,
    params: Vec<(String, String)>,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    async fn route(&self) -> Result<ServedResponse, ScimError> {
        let path = self.request.path.trim_matches('/');
        let segments: Vec<&str> = if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').collect()
        };
        let method = self.request.method;
        let base = self.request.base_url;
        let get_only = || {
            if method == Method::GET {
                Ok(())
            } else {
                Err(not_allowed(method))
            }
        };
        match segments.as_slice() {
            [first] if first.eq_ignore_ascii_case("ServiceProviderConfig") => {
                get_only()?;
                Ok(read(discovery::service_provider_config(base)))
            }
            [first] if first.eq_ignore_ascii_case("ResourceTypes") => {
                get_only()?;
                let items = discovery::RESOURCE_TYPES
                    .iter()
                    .map(|rt| discovery::resource_type(rt, base))
                    .collect();
                Ok(read(discovery::list(items)))
            }
            [first, name] if first.eq_ignore_ascii_case("ResourceTypes") => {
                get_only()?;
                let rt = discovery::find_resource_type(&decode(name)?)
                    .ok_or_else(|| ScimError::not_found(format!("no resource type {name:?}")))?;
                Ok(read(discovery::resource_type(rt, base)))
            }
            [first] if first.eq_ignore_ascii_case("Schemas") => {
                get_only()?;
                let items = super::schema::SCHEMAS
                    .iter()
                    .map(|s| discovery::schema(s, base))
                    .collect();
                Ok(read(discovery::list(items)))
            }
            [first, id] if first.eq_ignore_ascii_case("Schemas") => {
                get_only()?;
                let s = discovery::find_schema(&decode(id)?)
                    .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")))?;
                Ok(read(discovery::schema(s, base)))
            }
            [search] if search.eq_ignore_ascii_case(".search") => Err(ScimError::new(
                StatusCode::NOT_IMPLEMENTED,
                None,
                "searching several resource types at once is not supported; GET /Users or /Groups with a filter",
            )),
            [first, rest @ ..] => {
                let (kind, rt) = if first.eq_ignore_ascii_case("Users") {
                    (ResourceKind::User, &USER_TYPE)
                } else if first.eq_ignore_ascii_case("Groups") {
                    (ResourceKind::Group, &GROUP_TYPE)
                } else {
                    return Err(ScimError::not_found(format!("no endpoint /{path}")));
                };
                let on = Resources {
                    call: self,
                    kind,
                    rt,
                };
                match rest {
                    [] if method == Method::GET => on.list().await,
                    [] if method == Method::POST => on.create().await,
                    [] => Err(not_allowed(method)),
                    [id] => {
                        let id = decode(id)?;
                        match *method {
                            Method::GET => on.get(&id).await,
                            Method::PUT => on.replace(&id).await,
                            Method::PATCH => on.patch(&id).await,
                            Method::DELETE => on.delete(&id).await,
                            _ => Err(not_allowed(method)),
                        }
                    }
                    _ => Err(ScimError::not_found(format!("no endpoint /{path}"))),
                }
            }
            [] => Err(ScimError::not_found(
                "this is the SCIM base URL; resources are under /Users and /Groups",
            )),
        }
    }
}

/// Users or Groups.
struct Resources<'c, 'a> {
    call: &'c Call<'a>,
    kind: ResourceKind,
    rt: &'static ResourceType,
}

impl Resources<'_, '_> {
    fn projection(&self) -> Result<Projection, ScimError> {
        Projection::parse(
            self.rt,
            self.call.param("attributes"),
            self.call.param("excludedAttributes"),
        )
    }

    fn body(&self) -> Result<Value, ScimError> {
        serde_json::from_slice(self.call.request.body)
            .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
    }

    fn answer(
        &self,
        status: StatusCode,
        stored: &Stored,
        projection: &Projection,
        outcome: &'static str,
    ) -> ServedResponse {
        let base = self.call.request.base_url;
        let body = projection.apply(self.rt, resource::render(self.rt, stored, base));
        let mut answer = response::json(status, &body, outcome);
        if let Ok(etag) = resource::etag(stored).parse() {
            answer.headers.insert(header::ETAG, etag);
        }
        if status == StatusCode::CREATED
            && let Ok(location) = resource::location(self.rt, base, &stored.resource.id).parse()
        {
            answer.headers.insert(header::LOCATION, location);
        }
        answer
    }

    fn not_found(&self, id: &str) -> ScimError {
        ScimError::not_found(format!("{} {id:?} not found", self.rt.name))
    }

    async fn list(&self) -> Result<ServedResponse, ScimError> {
        let conditions = match self.call.param("filter") {
            Some(f) if !f.trim().is_empty() => self.conditions(f)?,
            _ => Vec::new(),
        };
        let start = match self.call.param("startIndex") {
            None => 1,
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value("startIndex must be an integer"))?
                .max(1),
        };
        let count = match self.call.param("count") {
            None => DEFAULT_COUNT,
            Some(c) => u64::try_from(
                c.trim()
                    .parse::<i64>()
                    .map_err(|_| ScimError::invalid_value("count must be an integer"))?
                    .max(0),
            )
            .unwrap_or(0)
            .min(MAX_RESULTS),
        };
        let projection = self.projection()?;
        let query = Query {
            conditions,
            offset: u64::try_from(start - 1).unwrap_or(0),
            limit: count,
        };
        let listed = self.call.store.list(self.kind, &query).await?;
        let base = self.call.request.base_url;
        let items: Vec<Value> = listed
            .items
            .iter()
            .map(|s| projection.apply(self.rt, resource::render(self.rt, s, base)))
            .collect();
        Ok(response::json(
            StatusCode::OK,
            &json!({
                "schemas": [LIST_RESPONSE],
                "totalResults": listed.total,
                "startIndex": start,
                "itemsPerPage": items.len(),
                "Resources": items,
            }),
            "listed",
        ))
    }

    /// A list filter as store conditions; only the attributes idsync can
    /// look up are accepted.
    fn conditions(&self, raw: &str) -> Result<Vec<Condition>, ScimError> {
        let comparisons = path::filter(raw, &self.rt.urns())?;
        comparisons
            .into_iter()
            .map(|c| {
                let Value::String(value) = c.value else {
                    return Err(ScimError::invalid_filter("compare with a string value"));
                };
                let core = c
                    .path
                    .urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(self.rt.core.id));
                let attr = c
                    .path
                    .attr
                    .as_deref()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let sub = c.path.sub.as_deref().map(str::to_ascii_lowercase);
                let condition = match (self.kind, core, attr.as_str(), sub.as_deref()) {
                    (_, true, "id", None) => Condition::Id(value),
                    (_, true, "externalid", None) => Condition::Exact("externalId", value),
                    (ResourceKind::User, true, "username", None) => {
                        Condition::CaseInsensitive("userName", value)
                    }
                    (ResourceKind::User, true, "emails", Some("value")) => {
                        Condition::AnyValue("emails", value)
                    }
                    (ResourceKind::Group, true, "displayname", None) => {
                        Condition::CaseInsensitive("displayName", value)
                    }
                    _ => {
                        return Err(ScimError::invalid_filter(format!(
                            "{} can be filtered on {} only",
                            self.rt.endpoint,
                            match self.kind {
                                ResourceKind::User => "userName, externalId, emails.value and id",
                                ResourceKind::Group => "displayName, externalId and id",
                            }
                        )));
                    }
                };
                Ok(condition)
            })
            .collect()
    }

    async fn create(&self) -> Result<ServedResponse, ScimError> {
        let json = resource::normalize(self.rt, self.body()?)?;
        let projection = self.projection()?;
        let id = self.call.id_source.choose(self.kind, &json);
        let new = resource::to_store(self.kind, &id, json)?;
        let stored = self.call.store.insert(self.kind, new).await?;
        Ok(self.answer(StatusCode::CREATED, &stored, &projection, "created"))
    }

    async fn get(&self, id: &str) -> Result<ServedResponse, ScimError> {
        let projection = self.projection()?;
        let stored = self
            .call
            .store
            .get(self.kind, id)
            .await?
            .ok_or_else(|| self.not_found(id))?;
        Ok(self.answer(StatusCode::OK, &stored, &projection, "read"))
    }

    async fn replace(&self, id: &str) -> Result<ServedResponse, ScimError> {
        let json = resource::normalize(self.rt, self.body()?)?;
        let kind = self.kind;
        self.modify(id, move |_current| {
            resource::to_store(kind, id, json.clone())
        })
        .await
    }

    async fn patch(&self, id: &str) -> Result<ServedResponse, ScimError> {
        let body = self.body()?;
        let (kind, rt) = (self.kind, self.rt);
        self.modify(id, move |current| {
            let mut json = resource::editable(current);
            patch::apply(rt, &mut json, &body)?;
            let json = resource::normalize(rt, Value::Object(json))?;
            resource::to_store(kind, id, json)
        })
        .await
    }

    /// Read-modify-write through the store, honouring `If-Match`.
    async fn modify(
        &self,
        id: &str,
        edit: impl Fn(&Stored) -> Result<Resource, ScimError> + Send + Sync,
    ) -> Result<ServedResponse, ScimError> {
        let projection = self.projection()?;
        let if_match = self
            .call
            .request
            .headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut refused: Option<ScimError> = None;
        let mut before = None;
        let result = {
            let mut decide = |current: &Stored| {
                before = Some(current.modified);
                if let Some(wanted) = &if_match
                    && wanted.trim() != "*"
                    && !wanted
                        .split(',')
                        .any(|w| w.trim() == resource::etag(current))
                {
                    refused = Some(ScimError::new(
                        StatusCode::PRECONDITION_FAILED,
                        None,
                        "the resource changed since the version in If-Match",
                    ));
                    return None;
                }
                match edit(current) {
                    Ok(new) => Some(new),
                    Err(e) => {
                        refused = Some(e);
                        None
                    }
                }
            };
            self.call.store.modify(self.kind, id, &mut decide).await
        };
        if let Some(e) = refused {
            return Err(e);
        }
        let stored = result?.ok_or_else(|| self.not_found(id))?;
        let outcome = if before == Some(stored.modified) {
            "unchanged"
        } else {
            "updated"
        };
        Ok(self.answer(StatusCode::OK, &stored, &projection, outcome))
    }

    async fn delete(&self, id: &str) -> Result<ServedResponse, ScimError> {
        if self.call.store.delete(self.kind, id).await? {
            Ok(response::empty(StatusCode::NO_CONTENT, "deleted"))
        } else {
            Err(self.not_found(id))
        }
    }
}

fn read(body: Value) -> ServedResponse {
    response::json(StatusCode::OK, &body, "read")
}

fn not_allowed(method: &Method) -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("{method} is not supported here"),
    )
}

/// A path segment, percent-decoded.
fn decode(segment: &str) -> Result<String, ScimError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ScimError::not_found("the path is not UTF-8"))
}
