using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using TcpStore.Protocol;

namespace TcpStore.Akka.Telemetry;

/// <summary>
/// The component's one <see cref="Meter"/> (<see cref="MeterName"/>) and its instruments. Ready for OpenTelemetry:
/// <c>AddMeter(TcpStoreMetrics.MeterName)</c>. Every measurement carries the tag <c>store</c> (the store's name,
/// <c>default</c> for the store <c>WithTcpStore</c> runs); each store counts through its own
/// <see cref="StoreMetrics"/>, which its guardian <see cref="Acquire"/>s when the store starts and
/// <see cref="Release"/>s when it is gone.
/// </summary>
/// <remarks>
/// Hot-path cost is kept near zero: a store counts operations into an array of its own with one interlocked increment
/// per query, and its gauges read a snapshot the store writes after each message (<see cref="StoreGauges"/>), so no
/// instrument allocates or takes a lock per request. The latency histogram is recorded once per batch.
/// </remarks>
public static class TcpStoreMetrics
{
    public const string MeterName = "TcpStore.Akka";

    /// <summary>The tag that names the store of every measurement.</summary>
    public const string StoreTag = "store";

    public static readonly Meter Meter = new(MeterName, typeof(TcpStoreMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>Connections accepted by the listener.</summary>
    public static readonly Counter<long> ConnectionsAccepted = Meter.CreateCounter<long>(
        "tcpstore.connections.accepted", unit: "{connection}", description: "Connections accepted.");

    /// <summary>Connections closed on accept, by <c>reason</c> (max-connections, max-total-connections, not-allowed).</summary>
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

    /// <summary>The metrics of every store that runs, by name, with how many holders each has: stores of the same
    /// name in several actor systems of one process share theirs.</summary>
    private static readonly Dictionary<string, (StoreMetrics Metrics, int Holders)> Stores = new(StringComparer.Ordinal);
    private static readonly List<StoreGauges> Gauges = [];

    /// <summary>Connections open now (accepted and not yet closed), per store.</summary>
    public static readonly ObservableGauge<long> ConnectionsOpen = Meter.CreateObservableGauge(
        "tcpstore.connections.open", () => PerStore(static s => s.OpenConnections), unit: "{connection}",
        description: "Connections open now.");

    /// <summary>Queries executed by the store, by <c>query</c> type (VALIDATE is not counted: the decoder checks it).</summary>
    public static readonly ObservableCounter<long> Operations = Meter.CreateObservableCounter(
        "tcpstore.operations", ObserveOperations, unit: "{operation}", description: "Queries executed, by query type.");

    /// <summary>Entries of the key/value map.</summary>
    public static readonly ObservableGauge<long> Keys = Meter.CreateObservableGauge(
        "tcpstore.keys", () => PerGauges(static s => s.Keys), unit: "{key}", description: "Keys in the key/value map.");

    /// <summary>Items in all queues.</summary>
    public static readonly ObservableGauge<long> QueueItems = Meter.CreateObservableGauge(
        "tcpstore.queue.items", () => PerGauges(static s => s.QueueItems), unit: "{item}", description: "Items in all queues.");

    /// <summary>Bytes of keys and values in the map plus queue items.</summary>
    public static readonly ObservableGauge<long> StoredBytes = Meter.CreateObservableGauge(
        "tcpstore.stored.bytes", () => PerGauges(static s => s.StoredBytes), unit: "By",
        description: "Bytes of keys and values in the map plus queue items.");

    /// <summary>Connections with a WAIT outstanding.</summary>
    public static readonly ObservableGauge<long> WaitingConnections = Meter.CreateObservableGauge(
        "tcpstore.waiting.connections", () => PerGauges(static s => s.WaitingConnections), unit: "{connection}",
        description: "Connections with a WAIT outstanding.");

    /// <summary>(key, connection) registrations in all waiter lists.</summary>
    public static readonly ObservableGauge<long> WaiterRegistrations = Meter.CreateObservableGauge(
        "tcpstore.waiting.registrations", () => PerGauges(static s => s.WaiterRegistrations), unit: "{registration}",
        description: "Registrations of waiting connections on absent keys.");

    /// <summary>Connections accepted in the last full second (a connection storm's accept rate). The same can be
    /// derived from <c>tcpstore.connections.accepted</c> by any backend (PromQL <c>rate(...[10s])</c>).</summary>
    public static readonly ObservableGauge<long> AcceptRate = Meter.CreateObservableGauge(
        "tcpstore.connections.accept_rate", () => PerStore(static s => s.AcceptedLastSecond()), unit: "{connection}/s",
        description: "Connections accepted in the last full second.");

    /// <summary>
    /// The metrics of the store named <paramref name="store"/>, exported (with its name as the <c>store</c> tag) until
    /// every holder has called <see cref="Release"/>; the same instance for the same name meanwhile.
    /// </summary>
    public static StoreMetrics Acquire(string store)
    {
        lock (Stores)
        {
            var (metrics, holders) = Stores.TryGetValue(store, out var held) ? held : (new StoreMetrics(store), 0);
            Stores[store] = (metrics, holders + 1);
            return metrics;
        }
    }

    /// <summary>One holder lets go: a removed store's counts are forgotten once nobody holds them, so that a process
    /// that creates and removes many stores keeps none of them (a store created again under a name starts at zero).</summary>
    public static void Release(StoreMetrics metrics)
    {
        lock (Stores)
        {
            if (!Stores.TryGetValue(metrics.Store, out var held) || !ReferenceEquals(held.Metrics, metrics)) return;
            if (held.Holders <= 1) Stores.Remove(metrics.Store);
            else Stores[metrics.Store] = (metrics, held.Holders - 1);
        }
    }

    /// <summary>The metrics of a running store, or null (read-only: for the status report).</summary>
    public static StoreMetrics? Find(string store)
    {
        lock (Stores) return Stores.TryGetValue(store, out var held) ? held.Metrics : null;
    }

    /// <summary>The default store's metrics for code built without a store around it (an engine or a listener in a
    /// test): held for the process's life.</summary>
    internal static StoreMetrics Unmanaged => LazyUnmanaged.Value;

    private static readonly Lazy<StoreMetrics> LazyUnmanaged = new(() => Acquire("default"));

    internal static void Register(StoreGauges gauges)
    {
        lock (Gauges) Gauges.Add(gauges);
    }

    internal static void Unregister(StoreGauges gauges)
    {
        lock (Gauges) Gauges.Remove(gauges);
    }

    private static IEnumerable<Measurement<long>> PerStore(Func<StoreMetrics, long> read)
    {
        lock (Stores) return Stores.Values.Select(held => new Measurement<long>(read(held.Metrics), held.Metrics.Tag)).ToList();
    }

    private static IEnumerable<Measurement<long>> PerGauges(Func<StoreGauges, long> read)
    {
        lock (Gauges) return Gauges.Select(g => new Measurement<long>(read(g), new KeyValuePair<string, object?>(StoreTag, g.Store))).ToList();
    }

    private static IEnumerable<Measurement<long>> ObserveOperations()
    {
        var measurements = new List<Measurement<long>>();
        lock (Stores)
        {
            foreach (var held in Stores.Values) held.Metrics.ObserveOperations(measurements);
        }
        return measurements;
    }
}

/// <summary>
/// One store's side of <see cref="TcpStoreMetrics"/>: its measurements carry its name as the <c>store</c> tag, and it
/// keeps the totals the status page shows (operations by type, errors by reason, the accept rate). Thread-safe: a
/// store's listener, connections and store actor count through it.
/// </summary>
public sealed class StoreMetrics
{
    private readonly long[] _operationCounts = new long[(int)WireFormat.LastQueryType + 1];
    private readonly KeyValuePair<string, object?>[][] _operationTags;
    private readonly ConcurrentDictionary<string, long> _errorCounts = new(StringComparer.Ordinal);
    private readonly AcceptRateWindow _acceptWindow = new();
    private long _openConnections;

    internal StoreMetrics(string store)
    {
        Store = store;
        Tag = new KeyValuePair<string, object?>(TcpStoreMetrics.StoreTag, store);
        _operationTags = new KeyValuePair<string, object?>[_operationCounts.Length][];
        for (var i = 0; i < _operationTags.Length; i++)
            _operationTags[i] = [Tag, new("query", ((QueryType)i).ToString())];
    }

    /// <summary>The store's name.</summary>
    public string Store { get; }

    internal KeyValuePair<string, object?> Tag { get; }

    /// <summary>Connections open now (accepted and not yet closed).</summary>
    public long OpenConnections => Interlocked.Read(ref _openConnections);

    public void ClosedForCause(string reason, string query)
    {
        TcpStoreMetrics.ConnectionsClosedForCause.Add(1, new TagList { Tag, { "reason", reason }, { "query", query } });
        Error(reason);
    }

    public void Refused(string reason)
    {
        TcpStoreMetrics.ConnectionsRefused.Add(1, Tag, new KeyValuePair<string, object?>("reason", reason));
        Error(reason);
    }

    /// <summary>One accepted connection: counted, open, and in the accept-rate window.</summary>
    public void Accepted()
    {
        TcpStoreMetrics.ConnectionsAccepted.Add(1, Tag);
        Interlocked.Increment(ref _openConnections);
        _acceptWindow.Record();
    }

    /// <summary><paramref name="connections"/> accepted connections have closed.</summary>
    public void Closed(int connections = 1) => Interlocked.Add(ref _openConnections, -connections);

    /// <summary>One error: counted on <see cref="TcpStoreMetrics.Errors"/>, and in the totals of <see cref="ErrorTotals"/>.</summary>
    public void Error(string reason)
    {
        TcpStoreMetrics.Errors.Add(1, Tag, new KeyValuePair<string, object?>("reason", reason));
        _errorCounts.AddOrUpdate(reason, 1, static (_, count) => count + 1);
    }

    /// <summary>One executed query; an interlocked increment, nothing else.</summary>
    public void Operation(QueryType type) => Interlocked.Increment(ref _operationCounts[(int)type]);

    /// <summary>Records a batch's round trip, measured from <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public void BatchCompleted(long startTimestamp) =>
        TcpStoreMetrics.OperationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, Tag);

    /// <summary>Every counted operation so far, by query type (for the status report).</summary>
    public IReadOnlyDictionary<string, long> OperationTotals()
    {
        var totals = new Dictionary<string, long>();
        for (var i = 0; i < _operationCounts.Length; i++)
        {
            var count = Interlocked.Read(ref _operationCounts[i]);
            if (count != 0) totals[((QueryType)i).ToString()] = count;
        }
        return totals;
    }

    /// <summary>Every counted error so far, by reason (for the status report). A counter's value can only be read
    /// by a listener, which counts from its own start; errors are rare, so keeping the totals here costs nothing.</summary>
    public IReadOnlyDictionary<string, long> ErrorTotals() =>
        new SortedDictionary<string, long>(_errorCounts, StringComparer.Ordinal);

    /// <summary>Connections accepted in the last full second.</summary>
    public long AcceptedLastSecond() => _acceptWindow.LastSecond();

    internal void ObserveOperations(List<Measurement<long>> measurements)
    {
        for (var i = 1; i < _operationCounts.Length; i++)
            measurements.Add(new Measurement<long>(Interlocked.Read(ref _operationCounts[i]), _operationTags[i]));
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
/// A store's latest numbers for the observable gauges: written by the store after each message it handles (plain
/// field writes; readers may see a value one message old), read by <see cref="TcpStoreMetrics"/>.
/// </summary>
internal sealed class StoreGauges(string store = "default")
{
    /// <summary>The store's name, the gauges' <c>store</c> tag.</summary>
    public readonly string Store = store;

    public long Keys;
    public long QueueItems;
    public long StoredBytes;
    public long WaitingConnections;
    public long WaiterRegistrations;
}
