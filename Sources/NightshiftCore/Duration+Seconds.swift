extension Duration {
    /// The duration in seconds, as a Double.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    public var inMilliseconds: Double { inSeconds * 1e3 }
    public var inMicroseconds: Double { inSeconds * 1e6 }
}
