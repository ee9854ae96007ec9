import Foundation
import NightshiftCore
import Testing

/// The merge queue's pure parts: its config keys, the conflict policy, and the directions of
/// the tasks it asks for.
@Suite("Landing policy and config")
struct LandingPolicyTests {
    func parseError(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "test.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test("land, base_branch and max_merge_attempts parse; defaults are off, the current branch, 2")
    func configKeys() throws {
        let defaults = NightshiftConfig().projectManager
        #expect(defaults.land == .off && defaults.baseBranch == "" && defaults.maxMergeAttempts == 2)
        let c = try ConfigLoader.parse(
            yaml: "project_manager:\n  land: push\n  base_branch: release/2.x\n  max_merge_attempts: 0\n")
        #expect(c.projectManager.land == .push)
        #expect(c.projectManager.baseBranch == "release/2.x")
        #expect(c.projectManager.maxMergeAttempts == 0)
    }

    @Test(
        "a bad value names its key",
        arguments: [
            ("project_manager:\n  land: yes\n", "project_manager.land"),
            ("project_manager:\n  land: merge\n", "project_manager.land"),
            ("project_manager:\n  base_branch: \"bad..name\"\n", "project_manager.base_branch"),
            ("project_manager:\n  base_branch: refs/heads/main\n", "project_manager.base_branch"),
            ("project_manager:\n  base_branch: nightshift/1-item\n", "project_manager.base_branch"),
            ("project_manager:\n  max_merge_attempts: -1\n", "project_manager.max_merge_attempts"),
            ("project_manager:\n  max_merge_attempts: two\n", "project_manager.max_merge_attempts"),
        ])
    func badValues(yaml: String, key: String) {
        let error = parseError(yaml)
        #expect(error?.path == key, "\(String(describing: error))")
    }

    @Test("the plan lands only with a workspace and land not off; a merge template is accepted")
    func planLands() throws {
        var c = NightshiftConfig()
        c.projectManager.land = .local
        #expect(!PipelinePlan(config: c).land, "no workspace: nothing to land")
        c.runner.workspace = "/repo"
        #expect(PipelinePlan(config: c).land)
        c.projectManager.land = .off
        #expect(!PipelinePlan(config: c).land)
        c.projectManager.templates = ["merge": "Merge {feedback}"]
        try ConfigLoader.validate(c)
    }

    @Test("conflicts give merge tasks up to max_merge_attempts, then a wait; 0 waits at once")
    func conflictPolicy() {
        let p = LandingPolicy(maxMergeAttempts: 2)
        #expect(p.afterConflict(mergeAttempts: 0) == .mergeTask(attempt: 1))
        #expect(p.afterConflict(mergeAttempts: 1) == .mergeTask(attempt: 2))
        #expect(p.afterConflict(mergeAttempts: 2) == .waitForDecision)
        #expect(LandingPolicy(maxMergeAttempts: 0).afterConflict(mergeAttempts: 0) == .waitForDecision)
    }

    static let conflict = MergeConflict(
        branch: "nightshift/2-readme", baseBranch: "main", baseHead: "0123456789abcdef0123456789abcdef01234567",
        files: ["README.md", "Sources/App.swift"], ours: ["aaaaaaa impl: rewrite the README"],
        theirs: ["bbbbbbb impl: write the README"])

    @Test("a merge task is an impl task of phase merge whose direction names the files, both sides and the base head")
    func mergeDirection() throws {
        let plan = PipelinePlan(phases: ["impl", "review"], maxIterations: 5, templates: [:], verify: false)
        let item = BacklogItem(
            entry: BacklogEntry(
                key: "2", position: 2, title: "Rewrite the README", body: "Rewrite it", after: [], file: "", line: 2),
            now: Date())
        guard
            case .run(let phase, let type, _, let iteration, let direction) = plan.mergeStep(
                item: item, conflict: Self.conflict, attempt: 2)
        else {
            Issue.record("no task")
            return
        }
        #expect(phase == "merge" && type == .impl && iteration == 2)
        for part in [
            "README.md, Sources/App.swift", "aaaaaaa impl: rewrite the README", "bbbbbbb impl: write the README",
            "0123456789ab", "attempt 2", "Rewrite the README",
        ] {
            #expect(direction.contains(part), "\(part) in \(direction)")
        }
        let prompt = LandingPolicy.decisionPrompt(Self.conflict, attempts: 2)
        #expect(prompt.contains("README.md") && prompt.contains("retry") && prompt.contains("skip"))
    }

    @Test("a verify failing after the rebase is a fix iteration of impl; blocked at max_iterations")
    func landingFix() {
        let plan = PipelinePlan(phases: ["impl"], maxIterations: 3, templates: [:], verify: true)
        var item = BacklogItem(
            entry: BacklogEntry(key: "1", position: 1, title: "T", body: "B", after: [], file: "", line: 1), now: Date())
        item.iteration = 2
        guard case .run(let phase, _, _, let iteration, let direction) = plan.landingFix(item: item, feedback: "2 tests fail")
        else {
            Issue.record("no fix task")
            return
        }
        #expect(phase == "impl" && iteration == 3)
        #expect(direction.contains("2 tests fail"))
        item.iteration = 3
        guard case .blocked(let why) = plan.landingFix(item: item, feedback: "still") else {
            Issue.record("not blocked at max_iterations")
            return
        }
        #expect(why.contains("3 iterations"))
    }

    @Test("branch names: short names pass, refs, ranges, spaces and the items' own branches do not")
    func branchNames() {
        for ok in ["", "main", "release/2.x", "dev-1"] { #expect(LandMode.branchNameProblem(ok) == nil, "\(ok)") }
        for bad in ["refs/heads/main", "a..b", "a b", "-x", "x/", "x.lock", "nightshift/1-a", "a~1", "a:b"] {
            #expect(LandMode.branchNameProblem(bad) != nil, "\(bad)")
        }
    }
}
