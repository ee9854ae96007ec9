import Foundation
import NightshiftCore
import NightshiftStore

/// Holds a completed attempt's output against its phase's contract (`project_manager.contracts`)
/// before the runner records the end: the one place that reads the contract's files from the
/// item's worktree. The judging is `PhaseContract`'s; the store and `PipelinePlan` only see the
/// outcome this returns.
enum OutputContract {
    /// Bytes of a contract file that are read; the rest is not searched.
    static let readLimit = 8 * 1024 * 1024

    /// The contract `task` must meet: pipeline tasks of a phase that has one.
    static func contract(for task: AgentTask, config: NightshiftConfig) -> PhaseContract? {
        guard task.backlogItem != nil, let phase = task.phase, let contract = config.projectManager.contracts[phase],
            !contract.isEmpty
        else { return nil }
        return contract
    }

    /// `outcome` (completed) checked against `contract`, the files read under `workdir`: met, it
    /// stays completed and says so; unmet, it fails with `contract_unmet`, not retried (another
    /// attempt of the same direction would not know what was missing), and the missing parts
    /// are its error and its event's `contract_missing`.
    static func apply(_ contract: PhaseContract, to outcome: AttemptOutcome, phase: String, workdir: String) -> AttemptOutcome {
        var files: [String: PhaseContract.FileText] = [:]
        for file in contract.files { files[file.path] = read(file.path, in: workdir) }
        var checked = outcome
        checked.contract = contract.check(summary: outcome.summary, files: files)
        if case .unmet(let missing) = checked.contract {
            checked.kind = .failed(
                errorClass: .contractUnmet, error: PhaseContract.error(phase: phase, missing: missing), retryDelay: nil)
        }
        return checked
    }

    /// A contract file as it is in the worktree now (lossy UTF-8: the check looks for text only).
    static func read(_ path: String, in workdir: String) -> PhaseContract.FileText {
        let full = URL(fileURLWithPath: workdir).appendingPathComponent(path).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else { return .notFound }
        if isDirectory.boolValue { return .directory }
        guard let handle = FileHandle(forReadingAtPath: full) else { return .notFound }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: readLimit)) ?? nil
        return .text(String(decoding: data ?? Data(), as: UTF8.self))
    }
}
