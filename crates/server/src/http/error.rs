//! The whole HTTP error policy: every failure becomes `{"error":{"code","message",…}}` with the
//! status of its code. Internal errors are logged with their cause chain and answered with a
//! generic message: nothing internal reaches the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protekt_api_types::{ErrorBody, ErrorCode, ErrorDetail};
use protekt_core::Error;

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    pub mfa_token: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            mfa_token: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::InvalidRequest, message)
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::InvalidRequest { field, message } => ApiError::invalid(field, message),
            Error::InvalidApiKey => ApiError::new(ErrorCode::InvalidApiKey, message),
            Error::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials, message),
            Error::EmailTaken => ApiError::new(ErrorCode::EmailTaken, message),
            Error::WeakPassword { field, message: m } => ApiError {
                field: Some(field),
                ..ApiError::new(ErrorCode::WeakPassword, m)
            },
            Error::ValueNotAllowed { field, message: m } => ApiError {
                field: Some(field),
                ..ApiError::new(ErrorCode::ValueNotAllowed, m)
            },
            Error::Conflict { message: m } => ApiError::new(ErrorCode::Conflict, m),
            Error::UserDisabled => ApiError::new(ErrorCode::UserDisabled, message),
            Error::EmailNotVerified => ApiError::new(ErrorCode::EmailNotVerified, message),
            Error::MfaRequired { mfa_token } => ApiError {
                mfa_token: Some(mfa_token),
                ..ApiError::new(ErrorCode::MfaRequired, message)
            },
            Error::MfaStepUpRequired => ApiError::new(ErrorCode::MfaStepUpRequired, message),
            Error::MfaLocked => ApiError::new(ErrorCode::MfaLocked, message),
            Error::InvalidCode => ApiError::new(ErrorCode::InvalidCode, message),
            Error::Forbidden => ApiError::new(ErrorCode::Forbidden, message),
            Error::RateLimited { retry_after } => ApiError {
                retry_after: Some(retry_after),
                ..ApiError::new(ErrorCode::RateLimited, message)
            },
            Error::InvalidToken => ApiError::new(ErrorCode::InvalidToken, message),
            Error::TokenExpired => ApiError::new(ErrorCode::TokenExpired, message),
            Error::NotFound => ApiError::new(ErrorCode::NotFound, message),
            Error::ServerBusy => ApiError {
                retry_after: Some(1),
                ..ApiError::new(ErrorCode::ServerBusy, message)
            },
            Error::Internal(inner) => {
                tracing::error!(error = ?inner, "internal error");
                ApiError::new(ErrorCode::InternalError, "an internal error occurred")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
                retry_after: self.retry_after,
                mfa_token: self.mfa_token,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self.code {
            ErrorCode::InvalidToken | ErrorCode::TokenExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ErrorCode::InvalidApiKey => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
            }
            _ => {}
        }
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_answer_generically() {
        let e: ApiError = Error::Internal(anyhow::anyhow!("connection refused to 10.0.0.5")).into();
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(!e.message.contains("10.0.0.5"));
    }

    #[test]
    fn each_domain_error_gets_its_status() {
        let cases = [
            (Error::InvalidCredentials, 401),
            (Error::EmailTaken, 409),
            (
                Error::WeakPassword {
                    field: "password".into(),
                    message: "x".into(),
                },
                422,
            ),
            (Error::UserDisabled, 403),
            (Error::InvalidToken, 401),
            (Error::TokenExpired, 401),
            (Error::InvalidApiKey, 401),
            (Error::NotFound, 404),
            (Error::ServerBusy, 503),
        ];
        for (e, status) in cases {
            let r = ApiError::from(e).into_response();
            assert_eq!(r.status().as_u16(), status);
        }
    }
}
