using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TcpStore.Akka.Telemetry;

/// <summary>
/// The component's one <see cref="Meter"/> (<see cref="MeterName"/>) and its instruments. Ready for OpenTelemetry:
/// <c>AddMeter(TcpStoreMetrics.MeterName)</c>. Instruments are static: a process hosts one store in practice, and
/// the numbers are per process like any runtime metric.
/// </summary>
public static class TcpStoreMetrics
{
    public const string MeterName = "TcpStore.Akka";

    public static readonly Meter Meter = new(MeterName, typeof(TcpStoreMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>Connections accepted by the listener.</summary>
    public static readonly Counter<long> ConnectionsAccepted = Meter.CreateCounter<long>(
        "tcpstore.connections.accepted", unit: "{connection}", description: "Connections accepted.");

    /// <summary>Connections closed on accept, by <c>reason</c> (max-connections, not-allowed).</summary>
    public static readonly Counter<long> ConnectionsRefused = Meter.CreateCounter<long>(
        "tcpstore.connections.refused", unit: "{connection}",
        description: "Connections closed as soon as they were accepted, by reason.");

    /// <summary>Connections the server closed because of what they sent, by <c>reason</c> and <c>query</c>.</summary>
    public static readonly Counter<long> ConnectionsClosedForCause = Meter.CreateCounter<long>(
        "tcpstore.connections.closed_for_cause", unit: "{connection}",
        description: "Connections closed by the server for a bad request or a limit, by reason and query.");

    public static void ClosedForCause(string reason, string query) =>
        ConnectionsClosedForCause.Add(1, new TagList { { "reason", reason }, { "query", query } });

    public static void Refused(string reason) => ConnectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
