import Foundation
import NightshiftRuntime

/// Runs a tool (found on PATH) to completion, for tests: its exit status, stdout and stderr.
public enum Command {
    @discardableResult
    public static func run(_ argv: [String], cwd: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.runSerialized()
        // Read stderr on another thread so a chatty tool cannot fill one pipe and stall.
        let errData = Locked(Data())
        let done = DispatchSemaphore(value: 0)
        Thread {
            errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            done.signal()
        }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.wait()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
    }

    /// The sqlite3 shell on a database, `-bail`: status, output trimmed, errors.
    public static func sqlite3(_ path: String, _ sql: String) throws -> (status: Int32, output: String, error: String) {
        let r = try run(["sqlite3", "-bail", path, sql])
        return (r.status, r.out.trimmingCharacters(in: .whitespacesAndNewlines), r.err)
    }
}
