/// The one list of secret forms: the redactor masks what each rule matches in every line the
/// daemon writes, and `nightshift guard` reports which rule matched where. A new form is a new
/// case here and its matcher in `Redactor+Rules.swift`; both users get it.
public enum SecretRule: String, CaseIterable, Sendable, Codable {
    /// The literal value of a configured secret (`runner.redact_env`, the API token, the
    /// Telegram token and secret, executor env named in `redact_env`).
    case configuredValue = "configured_value"
    /// `Authorization: Bearer <token>` (any `bearer` followed by 8+ token characters).
    case bearerToken = "bearer_token"
    /// `Authorization: Basic <base64 of user:password>`.
    case basicAuth = "basic_auth"
    /// OpenAI / Anthropic style keys: `sk-` and 16+ key characters.
    case apiKey = "api_key"
    /// A value after a key that names a secret (`…token`, `…secret`, `password`, `api_key`, …):
    /// `KEY=value`, `KEY = value`, `key: value`, `"key": "value"`, `?token=value&…`.
    case keyValue = "key_value"
    /// The password of a URL's user info: `scheme://user:password@host`.
    case urlCredentials = "url_credentials"
    /// A PEM private key block, `-----BEGIN … PRIVATE KEY-----` to `-----END …`, on one line or many.
    case privateKey = "private_key"

    /// One line on what the rule finds, for `nightshift guard --help` and the RUNBOOK.
    public var summary: String {
        switch self {
        case .configuredValue: return "the value of a configured secret (redact_env, server.token, telegram token/secret)"
        case .bearerToken: return "Bearer <token>"
        case .basicAuth: return "Authorization: Basic <base64 user:password>"
        case .apiKey: return "sk-… API keys"
        case .keyValue:
            return "KEY=value, KEY = value, key: value, \"key\": \"value\" for keys naming a token, secret, password or key"
        case .urlCredentials: return "scheme://user:password@host"
        case .privateKey: return "-----BEGIN … PRIVATE KEY----- blocks"
        }
    }
}
