//! The brands admin API (`SSWS`), Okta's paths and shapes for the one brand and theme an org
//! has here: its name and help link (brand), logo and primary colour (theme). Changes apply to
//! the hosted pages at once and are kept in the store.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::directory::branding::{self, Brand};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The org's brand and theme ids.
const BRAND_ID: &str = "default";
const THEME_ID: &str = "default";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/brands", get(list_brands))
        .route("/api/v1/brands/{brand}", get(read_brand).put(update_brand))
        .route("/api/v1/brands/{brand}/themes", get(list_themes))
        .route(
            "/api/v1/brands/{brand}/themes/{theme}",
            get(read_theme).put(update_theme),
        )
}

fn check_brand(id: &str) -> Result<(), ApiError> {
    if id == BRAND_ID {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("{id} (Brand)")))
    }
}

fn brand_view(base: &str, b: &Brand) -> Value {
    let me = format!("{base}/api/v1/brands/{BRAND_ID}");
    json!({
        "id": BRAND_ID,
        "name": b.name,
        "isDefault": true,
        "customPrivacyPolicyUrl": null,
        "removePoweredByOkta": true,
        "helpUrl": b.help_url,
        "_links": {
            "self": { "href": me },
            "themes": { "href": format!("{me}/themes") },
        },
    })
}

fn theme_view(base: &str, b: &Brand) -> Value {
    json!({
        "id": THEME_ID,
        "logo": b.logo_url,
        "favicon": null,
        "primaryColorHex": b.primary_color,
        "primaryColorContrastHex": b.colours().map(|(_, contrast)| contrast),
        "signInPageTouchPointVariant": "OKTA_DEFAULT",
        "_links": {
            "self": { "href": format!("{base}/api/v1/brands/{BRAND_ID}/themes/{THEME_ID}") },
        },
    })
}

/// Saves `next` (after checking it) and applies it to the pages.
async fn apply(state: &AppState, next: Brand) -> Result<(), ApiError> {
    let problems = next.problems();
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    branding::save(state.store.as_ref(), &next)?;
    state.flush().await?;
    match state.brand.write() {
        Ok(mut b) => *b = next,
        Err(poisoned) => *poisoned.into_inner() = next,
    }
    state.announce(super::BRAND_TOPIC);
    Ok(())
}

async fn list_brands(_: Admin, State(state): State<AppState>) -> Json<Value> {
    Json(json!([brand_view(&state.base_url, &state.brand())]))
}

async fn read_brand(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_brand(&id)?;
    Ok(Json(brand_view(&state.base_url, &state.brand())))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct BrandBody {
    name: Option<String>,
    /// A Portcullis extension: the help link on the hosted pages.
    help_url: Option<String>,
}

async fn update_brand(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<BrandBody>,
) -> Result<Json<Value>, ApiError> {
    check_brand(&id)?;
    let mut next = state.brand();
    if let Some(n) = body.name {
        next.name = n;
    }
    next.help_url = body.help_url.filter(|u| !u.is_empty());
    apply(&state, next).await?;
    Ok(Json(brand_view(&state.base_url, &state.brand())))
}

async fn list_themes(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_brand(&id)?;
    Ok(Json(json!([theme_view(&state.base_url, &state.brand())])))
}

fn check_theme(brand: &str, theme: &str) -> Result<(), ApiError> {
    check_brand(brand)?;
    if theme == THEME_ID {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("{theme} (Theme)")))
    }
}

async fn read_theme(
    _: Admin,
    State(state): State<AppState>,
    Path((brand, theme)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_theme(&brand, &theme)?;
    Ok(Json(theme_view(&state.base_url, &state.brand())))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ThemeBody {
    primary_color_hex: Option<String>,
    /// The logo's URL (Okta uploads it separately; here it is referenced).
    logo: Option<String>,
}

async fn update_theme(
    _: Admin,
    State(state): State<AppState>,
    Path((brand, theme)): Path<(String, String)>,
    OktaJson(body): OktaJson<ThemeBody>,
) -> Result<Json<Value>, ApiError> {
    check_theme(&brand, &theme)?;
    let mut next = state.brand();
    next.primary_color = body.primary_color_hex.filter(|c| !c.is_empty());
    next.logo_url = body.logo.filter(|u| !u.is_empty());
    apply(&state, next).await?;
    Ok(Json(theme_view(&state.base_url, &state.brand())))
}
