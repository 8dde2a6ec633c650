using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using TcpStore.Protocol;

namespace TcpStore.Akka.Telemetry;

/// <summary>
/// The component's one <see cref="Meter"/> (<see cref="MeterName"/>) and its instruments. Ready for OpenTelemetry:
/// <c>AddMeter(TcpStoreMetrics.MeterName)</c>. Instruments are static: a process hosts one store in practice, and
/// the numbers are per process like any runtime metric (with several stores in one process, the gauges add up).
/// </summary>
/// <remarks>
/// Hot-path cost is kept near zero: the store counts operations into a static array with one interlocked increment
/// per query, and its gauges read a snapshot the store writes after each message (<see cref="StoreGauges"/>), so no
/// instrument allocates or takes a lock per request. The latency histogram is recorded once per batch.
/// </remarks>
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


    /// <summary>Every error the server counts, by <c>reason</c>: a refusal, a close for cause (the same reason
    /// names), <c>connection-failed</c> (an I/O error on a socket), <c>bind-failed</c>, <c>internal-error</c>.</summary>
    public static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        "tcpstore.errors", unit: "{error}", description: "Errors, by reason.");

    /// <summary>Time from a batch's hand-off to the store to its replies, per batch of pipelined queries.</summary>
    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "tcpstore.operation.duration", unit: "s",
        description: "Time from handing a batch of queries to the store to receiving its replies.",
        tags: null,
        advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries =
                [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
        });

    private static readonly long[] OperationCounts = new long[(int)WireFormat.LastQueryType + 1];
    private static readonly KeyValuePair<string, object?>[] OperationTags = CreateOperationTags();
    private static readonly List<StoreGauges> Stores = [];
    private static readonly AcceptRateWindow AcceptWindow = new();
    private static readonly ConcurrentDictionary<string, long> ErrorCounts = new(StringComparer.Ordinal);
    private static long _openConnections;

    /// <summary>Connections open now (accepted and not yet closed). A gauge over a process-wide count, so that a
    /// listener attached late still reads the right number.</summary>
    public static readonly ObservableGauge<long> ConnectionsOpen = Meter.CreateObservableGauge(
        "tcpstore.connections.open", () => Interlocked.Read(ref _openConnections), unit: "{connection}",
        description: "Connections open now.");

    /// <summary>Queries executed by the store, by <c>query</c> type (VALIDATE is not counted: the decoder checks it).</summary>
    public static readonly ObservableCounter<long> Operations = Meter.CreateObservableCounter(
        "tcpstore.operations", ObserveOperations, unit: "{operation}", description: "Queries executed, by query type.");

    /// <summary>Entries of the key/value map.</summary>
    public static readonly ObservableGauge<long> Keys = Meter.CreateObservableGauge(
        "tcpstore.keys", () => Sum(static s => s.Keys), unit: "{key}", description: "Keys in the key/value map.");

    /// <summary>Items in all queues.</summary>
    public static readonly ObservableGauge<long> QueueItems = Meter.CreateObservableGauge(
        "tcpstore.queue.items", () => Sum(static s => s.QueueItems), unit: "{item}", description: "Items in all queues.");

    /// <summary>Bytes of keys and values in the map plus queue items.</summary>
    public static readonly ObservableGauge<long> StoredBytes = Meter.CreateObservableGauge(
        "tcpstore.stored.bytes", () => Sum(static s => s.StoredBytes), unit: "By",
        description: "Bytes of keys and values in the map plus queue items.");

    /// <summary>Connections with a WAIT outstanding.</summary>
    public static readonly ObservableGauge<long> WaitingConnections = Meter.CreateObservableGauge(
        "tcpstore.waiting.connections", () => Sum(static s => s.WaitingConnections), unit: "{connection}",
        description: "Connections with a WAIT outstanding.");

    /// <summary>(key, connection) registrations in all waiter lists.</summary>
    public static readonly ObservableGauge<long> WaiterRegistrations = Meter.CreateObservableGauge(
        "tcpstore.waiting.registrations", () => Sum(static s => s.WaiterRegistrations), unit: "{registration}",
        description: "Registrations of waiting connections on absent keys.");

    /// <summary>Connections accepted in the last full second (a connection storm's accept rate). The same can be
    /// derived from <c>tcpstore.connections.accepted</c> by any backend (PromQL <c>rate(...[10s])</c>).</summary>
    public static readonly ObservableGauge<long> AcceptRate = Meter.CreateObservableGauge(
        "tcpstore.connections.accept_rate", () => AcceptWindow.LastSecond(), unit: "{connection}/s",
        description: "Connections accepted in the last full second.");

    public static void ClosedForCause(string reason, string query)
    {
        ConnectionsClosedForCause.Add(1, new TagList { { "reason", reason }, { "query", query } });
        Error(reason);
    }

    public static void Refused(string reason)
    {
        ConnectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
        Error(reason);
    }

    /// <summary>One accepted connection: counted, open, and in the accept-rate window.</summary>
    public static void Accepted()
    {
        ConnectionsAccepted.Add(1);
        Interlocked.Increment(ref _openConnections);
        AcceptWindow.Record();
    }

    /// <summary><paramref name="connections"/> accepted connections have closed.</summary>
    public static void Closed(int connections = 1) => Interlocked.Add(ref _openConnections, -connections);

    /// <summary>One error: counted on <see cref="Errors"/>, and in the totals of <see cref="ErrorTotals"/>.</summary>
    public static void Error(string reason)
    {
        Errors.Add(1, new KeyValuePair<string, object?>("reason", reason));
        ErrorCounts.AddOrUpdate(reason, 1, static (_, count) => count + 1);
    }

    /// <summary>One executed query; an interlocked increment, nothing else.</summary>
    public static void Operation(QueryType type) => Interlocked.Increment(ref OperationCounts[(int)type]);

    /// <summary>Records a batch's round trip, measured from <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public static void BatchCompleted(long startTimestamp) =>
        OperationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

    /// <summary>Every counted operation so far, by query type (for the status report).</summary>
    public static IReadOnlyDictionary<string, long> OperationTotals()
    {
        var totals = new Dictionary<string, long>();
        for (var i = 0; i < OperationCounts.Length; i++)
        {
            var count = Interlocked.Read(ref OperationCounts[i]);
            if (count != 0) totals[((QueryType)i).ToString()] = count;
        }
        return totals;
    }

    /// <summary>Every counted error so far, by reason (for the status report). A counter's value can only be read
    /// by a listener, which counts from its own start; errors are rare, so keeping the totals here costs nothing.</summary>
    public static IReadOnlyDictionary<string, long> ErrorTotals() =>
        new SortedDictionary<string, long>(ErrorCounts, StringComparer.Ordinal);

    /// <summary>Connections accepted in the last full second.</summary>
    public static long AcceptedLastSecond() => AcceptWindow.LastSecond();

    internal static void Register(StoreGauges gauges)
    {
        lock (Stores) Stores.Add(gauges);
    }

    internal static void Unregister(StoreGauges gauges)
    {
        lock (Stores) Stores.Remove(gauges);
    }

    private static long Sum(Func<StoreGauges, long> read)
    {
        long sum = 0;
        lock (Stores)
        {
            foreach (var store in Stores) sum += read(store);
        }
        return sum;
    }

    private static IEnumerable<Measurement<long>> ObserveOperations()
    {
        var measurements = new List<Measurement<long>>(OperationCounts.Length);
        for (var i = 1; i < OperationCounts.Length; i++)
            measurements.Add(new Measurement<long>(Interlocked.Read(ref OperationCounts[i]), OperationTags[i]));
        return measurements;
    }

    private static KeyValuePair<string, object?>[] CreateOperationTags()
    {
        var tags = new KeyValuePair<string, object?>[OperationCounts.Length];
        for (var i = 0; i < tags.Length; i++) tags[i] = new("query", ((QueryType)i).ToString());
        return tags;
    }
}

/// <summary>Counts accepts per second; reports the last completed second. Accepts are not a per-request path, so a
/// lock is fine here.</summary>
internal sealed class AcceptRateWindow
{
    private readonly Lock _gate = new();
    private long _second = -1;
    private long _count;
    private long _previous;

    private static long Now => Environment.TickCount64 / 1000;

    public void Record() => Record(Now);

    public long LastSecond() => LastSecond(Now);

    /// <summary>One accept during second <paramref name="second"/> (of any monotonic clock).</summary>
    public void Record(long second)
    {
        lock (_gate)
        {
            Roll(second);
            _count++;
        }
    }

    /// <summary>Accepts in the second before <paramref name="second"/>.</summary>
    public long LastSecond(long second)
    {
        lock (_gate)
        {
            Roll(second);
            return _previous;
        }
    }

    private void Roll(long now)
    {
        if (now <= _second) return;
        _previous = now == _second + 1 ? _count : 0;
        _second = now;
        _count = 0;
    }
}

/// <summary>
/// The store's latest numbers for the observable gauges: written by the store after each message it handles
/// (plain field writes; readers may see a value one message old), read by <see cref="TcpStoreMetrics"/>.
/// </summary>
internal sealed class StoreGauges
{
    public long Keys;
    public long QueueItems;
    public long StoredBytes;
    public long WaitingConnections;
    public long WaiterRegistrations;
}
