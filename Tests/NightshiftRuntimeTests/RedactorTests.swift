import Foundation
import NightshiftCore
import NightshiftRuntime
import Testing

/// Every rule of the redactor, what it must leave alone, and that it is idempotent.
@Suite("Redactor")
struct RedactorTests {
    let redactor = Redactor()

    @Test(
        "each rule masks the secret and keeps its label",
        arguments: [
            ("key sk-abcdefghijklmnopqrstu end", "key sk-[REDACTED] end"),
            ("sk-ant-api03-abcdefghijklmnop_QRS", "sk-[REDACTED]"),
            ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [REDACTED]"),
            ("authorization: bearer eyJhbGciOi.J9xyz.abc-_~+/=", "authorization: bearer [REDACTED]"),
            (
                "curl -H 'Authorization: Bearer demo-token-abcdef123456' https://x",
                "curl -H 'Authorization: Bearer [REDACTED]' https://x"
            ),
            ("password=hunter2", "password=[REDACTED]"),
            ("GET /v1?token=xyz123&x=1", "GET /v1?token=[REDACTED]&x=1"),
            (#"{"api_key": "k-123456", "n": 1}"#, #"{"api_key": "[REDACTED]", "n": 1}"#),
            ("export OPENAI_API_KEY=abc123def", "export OPENAI_API_KEY=[REDACTED]"),
            ("GITHUB_TOKEN=ghp_0123456789", "GITHUB_TOKEN=[REDACTED]"),
            ("client_secret: s3cr3t-value", "client_secret: [REDACTED]"),
            ("db_passwd='pa ss wd'", "db_passwd='[REDACTED]'"),
            ("aws_access_key=AKIA1234;next", "aws_access_key=[REDACTED];next"),
            ("api-key=zzz,other", "api-key=[REDACTED],other"),
            ("X_PRIVATE_KEY:abc", "X_PRIVATE_KEY:[REDACTED]"),
            ("SECRET=a TOKEN=b", "SECRET=[REDACTED] TOKEN=[REDACTED]"),
        ])
    func rule(_ input: String, _ expected: String) {
        #expect(redactor.redact(input) == expected)
    }

    @Test(
        "text that only looks like a secret is left alone",
        arguments: [
            "tokens_in=5 tokens_out=7",
            "max_tokens: 4096",
            #"{"input_tokens":18234,"output_tokens":2311,"total_cost_usd":0.1873}"#,
            "task-abcdefghijklmnopqrstuvwxyz and disk-0123456789abcdefghij",
            "sk-short",
            "Bearer short",
            "the bearer of bad news",
            "secret_santa=bob",
            "token=",
            "pwd=here key=value",
            "task_0123456789abcdef attempt 2/3 executor=default",
            "",
            "plain ünïcödé text ✓",
        ])
    func untouched(_ input: String) {
        #expect(redactor.redact(input) == input)
    }

    @Test("configured secret values are masked wherever they appear; short ones are ignored")
    func literals() {
        let r = Redactor(secretValues: ["hunter22-literal", "abc", "s3cr3tvalue", "s3cr3t"])
        #expect(r.redact("xxhunter22-literalyy") == "xx[REDACTED]yy")
        #expect(r.redact("abc abc") == "abc abc")
        // The longest literal wins over a prefix of it.
        #expect(r.redact("v=s3cr3tvalue!") == "v=[REDACTED]!")
        #expect(r.redact("s3cr3t and s3cr3tvalue") == "[REDACTED] and [REDACTED]")
    }

    @Test(
        "redacting twice changes nothing more",
        arguments: [
            "key sk-abcdefghijklmnopqrstu h Authorization: Bearer abcdefgh12345678 pw password=hunter2",
            "url ?token=xyz123&x=1 json \"api_key\": \"k-123456\" and 'secret': 'x y'",
            "API_KEY=[REDACTED] Bearer [REDACTED] sk-[REDACTED]",
        ])
    func idempotent(_ input: String) {
        let once = redactor.redact(input)
        #expect(redactor.redact(once) == once)
    }

    @Test("the byte API appends one redacted line to the buffer")
    func byteAPI() {
        var out = Array("prefix|".utf8)
        var line = "token=abc"
        line.withUTF8 { redactor.redact($0, into: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "prefix|token=[REDACTED]")
    }

    @Test("the daemon's redactor masks configured env vars, the API token and executor secrets")
    func fromConfig() {
        var config = NightshiftConfig()
        config.runner.redactEnv = ["MY_SECRET", "UNSET_ONE"]
        config.server.token = "api-token-123"
        config.runner.executors["claude"] = .init(
            command: "claude -p {direction}", env: ["MY_SECRET": "from-executor-env", "PLAIN": "visible-value"])
        let r = ServiceEnvironment.redactor(for: config, environment: ["MY_SECRET": "from-process-env"])
        #expect(r.redact("a from-process-env b") == "a [REDACTED] b")
        #expect(r.redact("a from-executor-env b") == "a [REDACTED] b")
        #expect(r.redact("a api-token-123 b") == "a [REDACTED] b")
        #expect(r.redact("a visible-value b") == "a visible-value b")
    }
}
