// The release this source tree is: reported by the metrics (glimpse_build_info) and the admin port.

/// Glimpse's version, bumped by hand at release.
public let glimpseVersion = "0.1.0"
