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

    @Test(
        "the forms added for the guard: KEY = value, HTTP Basic, URL passwords",
        arguments: [
            ("API_KEY = abc123def", "API_KEY = [REDACTED]"),
            (#"password = "hunter2""#, #"password = "[REDACTED]""#),
            ("SECRET_TOKEN\t=\tzzz-1", "SECRET_TOKEN\t=\t[REDACTED]"),
            ("db_password =hunter2 next", "db_password =[REDACTED] next"),
            ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]"),
            ("curl -H 'authorization: basic YWxhZGRpbjpvcGVuc2VzYW1l' x", "curl -H 'authorization: basic [REDACTED]' x"),
            ("DATABASE_URL=postgres://app:s3cr3t@db:5432/app", "DATABASE_URL=postgres://app:[REDACTED]@db:5432/app"),
            ("https://user:p@ss@host/x", "https://user:[REDACTED]@host/x"),
            ("redis://:pw123@cache:6379", "redis://:[REDACTED]@cache:6379"),
            (
                "git clone https://x-access-token:ghs_abc123@github.com/o/r.git",
                "git clone https://x-access-token:[REDACTED]@github.com/o/r.git"
            ),
            (
                #"{"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"}"#,
                #"{"key": "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n"}"#
            ),
        ])
    func newForms(_ input: String, _ expected: String) {
        #expect(redactor.redact(input) == expected)
        #expect(redactor.redact(expected) == expected, "redacting twice changes nothing more")
    }

    @Test(
        "code and prose that only look like the new forms are left alone",
        arguments: [
            "if token == expected { return }", "guard token != nil", "while token <= 5", "x => token", "max_tokens = 4096",
            "let token = config.token", "let apiKey = settings.apiKey", "token = makeToken()", "password = os.environ[\"PW\"]",
            "API_TOKEN=${API_TOKEN}", "export TOKEN=$GITHUB_TOKEN", "password: <your-password>", "secret = {{ vault.secret }}",
            "the basic building blocks", "Basic auth is configured", "Basic dGVzdGluZ3Rlc3Q=", "https://host:8080/path",
            "git@github.com:org/repo.git", "https://user@host/", "see http://example.com/a:b@c",
            "-----BEGIN PUBLIC KEY-----", "-----BEGIN CERTIFICATE-----",
        ])
    func newFormsUntouched(_ input: String) {
        #expect(redactor.redact(input) == input)
    }

    @Test("a private key block over several lines is masked whole, the BEGIN and END lines kept")
    func privateKeyBlock() {
        let lines = [
            "key follows:", "-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
            "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACDf", "-----END OPENSSH PRIVATE KEY-----", "token=abc after",
        ]
        var carry = Redactor.Carry()
        var out: [String] = []
        for line in lines {
            var bytes: [UInt8] = []
            Array(line.utf8).withUnsafeBufferPointer { redactor.redact($0, into: &bytes, carry: &carry) }
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        #expect(
            out == [
                "key follows:", "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]", "[REDACTED]", "[REDACTED]",
                "-----END OPENSSH PRIVATE KEY-----", "token=[REDACTED] after",
            ])
        #expect(!carry.inPrivateKey, "the END line closes the block")
        // One string holding the whole block (a log message) is masked between BEGIN and END.
        #expect(
            redactor.redact(lines.joined(separator: "\n"))
                == "key follows:\n-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----\ntoken=[REDACTED] after"
        )
        // Without the carry, a BEGIN line masks to its end and the next line is on its own.
        #expect(redactor.redact("-----BEGIN EC PRIVATE KEY----- MHcCAQEE") == "-----BEGIN EC PRIVATE KEY-----[REDACTED]")
    }

    @Test("a block whose END never comes stops being masked after maxBlockLines lines")
    func unterminatedBlock() {
        var carry = Redactor.Carry()
        func redact(_ line: String) -> String {
            var bytes: [UInt8] = []
            Array(line.utf8).withUnsafeBufferPointer { redactor.redact($0, into: &bytes, carry: &carry) }
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(redact("-----BEGIN PRIVATE KEY-----") == "-----BEGIN PRIVATE KEY-----[REDACTED]")
        for _ in 0..<Redactor.maxBlockLines { #expect(redact("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") == "[REDACTED]") }
        #expect(!carry.inPrivateKey)
        #expect(redact("plain output again") == "plain output again")
    }

    /// One line per rule: the guard's matches name the rule, keep its lead and find the secret.
    static let examples: [SecretRule: (line: String, lead: String, secret: String)] = [
        .configuredValue: ("using hunter22-literal now", "", "hunter22-literal"),
        .bearerToken: ("Authorization: Bearer abcdefgh12345678", "Bearer ", "abcdefgh12345678"),
        .basicAuth: ("Authorization: Basic dXNlcjpwYXNz", "Basic ", "dXNlcjpwYXNz"),
        .apiKey: ("key sk-abcdefghijklmnopqrstu", "sk-", "abcdefghijklmnopqrstu"),
        .keyValue: ("export OPENAI_API_KEY = abc123", "OPENAI_API_KEY = ", "abc123"),
        .urlCredentials: ("postgres://app:s3cr3t@db/app", "postgres://app:", "s3cr3t"),
        .privateKey: (
            "-----BEGIN RSA PRIVATE KEY-----MIIE-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----", "MIIE"
        ),
    ]

    @Test("every rule of the one list has a matcher, and the match names it", arguments: SecretRule.allCases)
    func everyRuleMatches(_ rule: SecretRule) throws {
        let example = try #require(Self.examples[rule], "an example line for \(rule)")
        let r = Redactor(secretValues: ["hunter22-literal"])
        let bytes = Array(example.line.utf8)
        var carry = Redactor.Carry()
        let matches = bytes.withUnsafeBufferPointer { r.matches(in: $0, carry: &carry) }
        try #require(matches.count == 1, "\(matches)")
        let m = matches[0]
        #expect(m.rule == rule)
        #expect(String(decoding: bytes[m.leadStart..<m.valueStart], as: UTF8.self) == example.lead)
        #expect(String(decoding: bytes[m.valueStart..<m.end], as: UTF8.self) == example.secret)
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
