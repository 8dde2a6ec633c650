using System.Diagnostics;
using System.Text;
using TcpStore.Akka.Jepsen.Checker;
using TcpStore.Akka.Jepsen.Harness;
using TcpStore.Akka.Jepsen.History;
using TcpStore.Akka.Jepsen.Workload;
using TcpStore.Protocol;

namespace TcpStore.Akka.Jepsen;

public sealed record JepsenOptions
{
    public int Nodes { get; init; } = 3;

    /// <summary>The faults to inject, in order. When null, random faults until <see cref="Duration"/> has passed.</summary>
    public IReadOnlyList<FaultKind>? Schedule { get; init; }

    /// <summary>How long to keep injecting random faults (used when there is no <see cref="Schedule"/>).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(5);

    public int Seed { get; init; } = Environment.TickCount;

    /// <summary>Where the history, the nodes' configurations and logs go; a fresh temporary directory when null.</summary>
    public string? Directory { get; init; }

    /// <summary>Keep the directory when the run passes too (it is always kept when it fails).</summary>
    public bool KeepOnPass { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Workload before the first fault.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(5);

    public WorkloadOptions Workload { get; init; } = new();

    public NemesisOptions Nemesis { get; init; } = new();

    public CheckerOptions Checker { get; init; } = new();
}

/// <summary>What a run found: whether it passed and why not, with the numbers it printed.</summary>
public sealed class JepsenResult
{
    public bool Passed => Failures.Count == 0;

    public List<string> Failures { get; } = [];

    public string Directory { get; init; } = "";

    public int Operations { get; set; }

    public int UnknownOperations { get; set; }

    public int ReadsDuringFaults { get; set; }

    public int Takeovers { get; set; }

    public List<FaultRecord> Faults { get; } = [];

    public CheckReport? Report { get; set; }
}

/// <summary>
/// One Jepsen-style run: start the cluster in network namespaces, run the workload on every node, inject the faults
/// (each healed and recovered from before the next), stop the workload, read the final state, check the history,
/// assert the faults hit something, print it all. Every process is killed and the network removed at the end,
/// whatever happened.
/// </summary>
public static class JepsenRun
{
    public static async Task<JepsenResult> RunAsync(JepsenOptions options, Action<string> print, CancellationToken ct = default)
    {
        var directory = options.Directory ?? Path.Combine(Path.GetTempPath(),
            $"tcpstore-jepsen-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(directory);
        var result = new JepsenResult { Directory = directory };
        var history = new HistoryRecorder();
        var random = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        void Log(string line) => print($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {line}");

        print($"JEPSEN: {options.Nodes} nodes, seed {options.Seed}, " +
              (options.Schedule is { } s ? $"faults {string.Join(", ", s)}" : $"random faults for {options.Duration.TotalMinutes:0.#} min") +
              $"; config {JepsenCluster.ClusterLocalConf}; load average {LoadAverage()}; directory {directory}");

        JepsenCluster? cluster = null;
        try
        {
            cluster = await JepsenCluster.StartAsync(options.Nodes, directory, () => history.Now, Log, options.StartTimeout);
            var nodes = cluster.Nodes.Select(n => (n.Name, n.Address)).ToList();
            var workload = new StoreWorkload(history, nodes, JepsenCluster.StorePort, options.Workload, options.Seed);
            using var stopWorkload = new CancellationTokenSource();
            var clients = workload.RunAsync(stopWorkload.Token);
            try
            {
                await Task.Delay(options.WarmUp, ct);
                Log($"workload: {history.Count} operations after the warm-up");
                var nemesis = new Nemesis(cluster, options.Nemesis, () => history.Now, random, Log, workload);
                var faults = options.Schedule ?? [];
                for (var i = 0; options.Schedule is null ? clock.Elapsed < options.Duration : i < faults.Count; i++)
                {
                    var kind = options.Schedule is null ? RandomFault(random, options.Nodes) : faults[i];
                    var record = await nemesis.InjectAsync(kind, ct);
                    result.Faults.Add(record);
                    if (!record.Recovered)
                    {
                        result.Failures.Add($"after {record.Kind} of {record.Target}: {string.Join("; ", record.Notes)}");
                        break;
                    }
                    await Task.Delay(options.Nemesis.Quiet, ct);
                }
            }
            finally
            {
                await stopWorkload.CancelAsync();
                var bound = options.Workload.OperationTimeout + options.Workload.BarrierTimeout + options.Workload.ConnectTimeout + TimeSpan.FromSeconds(10);
                if (await Task.WhenAny(clients, Task.Delay(bound, CancellationToken.None)) != clients)
                    result.Failures.Add($"the workload's clients did not stop within {bound.TotalSeconds:0} s");
            }
            Log($"workload: stopped after {history.Count} operations");

            if (!await FinalReadAsync(cluster, history, Log, ct))
                result.Failures.Add("the final state could not be read from any node within 60 s");
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or ClusterDidNotRecoverException)
        {
            result.Failures.Add($"the run stopped: {e.Message}");
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
                Log($"cluster: every process ended, network removed; singleton moves: {Moves(cluster)}");
            }
        }

        var operations = history.Snapshot();
        HistoryRecorder.Write(Path.Combine(directory, "history.jsonl"), operations);
        Summarize(result, operations, options, print, clock);
        if (result.Passed && !options.KeepOnPass) TryDelete(directory);
        else print($"kept: {directory} (history.jsonl, n*.log, n*.conf)");
        return result;
    }

    private static FaultKind RandomFault(Random random, int nodes)
    {
        var kinds = Enum.GetValues<FaultKind>().Where(k => k != FaultKind.SplitOthers || nodes >= 4).ToArray();
        // Faults of the singleton (the ones that make a failover) twice as often as the others.
        var weighted = kinds.SelectMany(k => Nemesis.HitsSingleton(k) ? new[] { k, k } : [k]).ToArray();
        return weighted[random.Next(weighted.Length)];
    }

    private static string Moves(JepsenCluster cluster) =>
        string.Join(" -> ", cluster.SingletonEvents.Select(e => $"{cluster.Nodes[e.Node].Name}@{e.At / 1e9:0.0}s"));

    /// <summary>
    /// After the last fault healed and the workload stopped: one atomic MULTI_GET of every non-queue key the history
    /// touched, and QUEUE_LEN of every queue, through any node that answers (recorded as the history's final operations).
    /// </summary>
    private static async Task<bool> FinalReadAsync(JepsenCluster cluster, HistoryRecorder history, Action<string> log, CancellationToken ct)
    {
        var touched = history.Snapshot().SelectMany(o => o.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var keys = touched.Where(k => KeySpace.ModelOf(k) != KeyModel.Queue).ToArray();
        var queues = touched.Where(k => KeySpace.ModelOf(k) == KeyModel.Queue).ToArray();
        var clock = Stopwatch.StartNew();
        for (var attempt = 0; clock.Elapsed < TimeSpan.FromSeconds(60); attempt++)
        {
            var node = cluster.Nodes[attempt % cluster.Nodes.Count];
            var connectionId = history.NewConnection();
            var sequence = 0;
            Operation Record(OpFunction function, string[] opKeys) =>
                history.Invoke(1, (id, at, _) => new Operation
                {
                    Id = id, Client = -1, Connection = connectionId, Sequence = sequence++, Node = node.Name,
                    Function = function, Keys = opKeys, Invoke = at, Final = true,
                })[0];
            try
            {
                using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
                bound.CancelAfter(TimeSpan.FromSeconds(15));
                using var connection = await WireConnection.OpenAsync(node.Address, JepsenCluster.StorePort, TimeSpan.FromSeconds(5), bound.Token);
                var read = Record(OpFunction.MultiGet, keys);
                await connection.SendAsync([new Query.MultiGet(keys.Select(Encoding.ASCII.GetBytes).ToArray())], bound.Token);
                var values = (Reply.MultiBytes)await connection.ReadAsync(QueryType.MultiGet, keys.Length, bound.Token);
                read.Output = values.Values.Select(Encoding.ASCII.GetString).ToArray();
                read.Succeed(history.Now);
                foreach (var queue in queues)
                {
                    var length = Record(OpFunction.QueueLen, [queue]);
                    await connection.SendAsync([new Query.QueueLen(Encoding.ASCII.GetBytes(queue))], bound.Token);
                    length.OutputNumber = ((Reply.Integer)await connection.ReadAsync(QueryType.QueueLen, 0, bound.Token)).Value;
                    length.Succeed(history.Now);
                }
                log($"final read: {keys.Length} keys and {queues.Length} queues through {node.Name}");
                return true;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidDataException)
            {
                log($"final read through {node.Name} failed ({e.GetType().Name}: {e.Message}); trying another node");
                await Task.Delay(1000, ct);
            }
        }
        return false;
    }

    private static void Summarize(JepsenResult result, IReadOnlyList<Operation> operations, JepsenOptions options, Action<string> print, Stopwatch clock)
    {
        var workload = operations.Where(o => !o.Final).ToList();
        result.Operations = operations.Count;
        result.UnknownOperations = workload.Count(o => o.Outcome == OpOutcome.Unknown);
        var windows = result.Faults.Select(f => (f.StartedAt, f.HealedAt)).ToList();
        result.ReadsDuringFaults = workload.Count(o => o is { Outcome: OpOutcome.Ok, IsWrite: false } &&
                                                       windows.Any(w => o.Complete > w.StartedAt && o.Complete < w.HealedAt));
        var writesDuringFaults = workload.Count(o => o is { Outcome: OpOutcome.Ok, IsWrite: true } &&
                                                     windows.Any(w => o.Complete > w.StartedAt && o.Complete < w.HealedAt));
        result.Takeovers = result.Faults.Count(f => f.TakenOverBy is not null);

        var byOutcome = workload.GroupBy(o => o.Outcome).ToDictionary(g => g.Key, g => g.Count());
        print($"HISTORY: {operations.Count} operations ({byOutcome.GetValueOrDefault(OpOutcome.Ok)} ok, " +
              $"{byOutcome.GetValueOrDefault(OpOutcome.Fail)} fail, {result.UnknownOperations} unknown, " +
              $"{operations.Count - workload.Count} final reads) on {workload.Select(o => o.Connection).Distinct().Count()} connections; " +
              string.Join(", ", workload.GroupBy(o => o.Function).OrderByDescending(g => g.Count()).Select(g => $"{Operation.WireName(g.Key)} {g.Count()}")));
        print($"FAULTS: {result.Faults.Count} injected, {result.Takeovers} singleton takeovers");
        foreach (var fault in result.Faults) print("  " + fault);
        print($"HIT: {result.UnknownOperations} operations of unknown outcome, {result.ReadsDuringFaults} reads and {writesDuringFaults} writes " +
              "acknowledged during a fault");

        if (operations.Any(o => o.Final))
        {
            var checkClock = Stopwatch.StartNew();
            var report = HistoryChecker.Check(operations, options.Checker);
            result.Report = report;
            print($"CHECK ({checkClock.Elapsed.TotalSeconds:0.0} s):");
            foreach (var line in report.Summary) print("  " + line);
            // The first few in full (each with the sub-history that shows it), the rest one line each.
            foreach (var violation in report.Violations.Take(3)) print("VIOLATION: " + violation);
            foreach (var violation in report.Violations.Skip(3).Take(40)) print("VIOLATION: " + Headline(violation));
            if (report.Violations.Count > 43) print($"... and {report.Violations.Count - 43} more violations (history.jsonl)");
            foreach (var undecided in report.Undecided) print("UNDECIDED: " + undecided);
            if (!report.Valid)
                result.Failures.Add($"the checker found {report.Violations.Count} violations and {report.Undecided.Count} undecided checks");
        }

        // The run cannot pass by missing: its faults must have hit something.
        if (result.UnknownOperations == 0) result.Failures.Add("no operation had an unknown outcome: the faults hit nothing");
        if (result.ReadsDuringFaults == 0) result.Failures.Add("no read was answered during a fault");
        if (result.Faults.Any(f => Nemesis.HitsSingleton(f.Kind)) && result.Takeovers == 0)
            result.Failures.Add("no fault of the singleton made another node take over");

        print($"VERDICT: {(result.Passed ? "PASS" : "FAIL")} after {clock.Elapsed.TotalSeconds:0} s; load average {LoadAverage()}" +
              (result.Passed ? "" : "\n  " + string.Join("\n  ", result.Failures)));
    }

    /// <summary>A violation in one line: its first line and, for a linearizability one, the operation no order could place.</summary>
    private static string Headline(string violation)
    {
        var lines = violation.Split('\n');
        var stuck = lines.FirstOrDefault(l => l.Contains("then no order linearizes", StringComparison.Ordinal));
        return lines[0] + (stuck is null ? "" : " — " + stuck.Trim());
    }

    /// <summary>The machine's load average (1, 5, 15 min), printed beside every figure: the machine is shared.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
