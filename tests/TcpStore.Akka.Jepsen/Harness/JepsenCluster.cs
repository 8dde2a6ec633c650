using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using TcpStore.Akka.Jepsen.Workload;
using TcpStore.Protocol;

namespace TcpStore.Akka.Jepsen.Harness;

/// <summary>One store node: its address, its config, and the processes it has run (a restart starts a new one).</summary>
public sealed class ClusterNode(int index, string address, string configFile, string logFile)
{
    private readonly object _gate = new();
    private readonly Queue<string> _tail = new();

    public int Index { get; } = index;

    public string Name => $"n{Index}";

    public string Address { get; } = address;

    public string ConfigFile { get; } = configFile;

    public string LogFile { get; } = logFile;

    /// <summary>The current process (null before the first start).</summary>
    public NodeProcess? Process { get; internal set; }

    internal List<NodeProcess> AllProcesses { get; } = [];

    /// <summary>When the current process started, on the run's clock.</summary>
    public long StartedAt { get; internal set; }

    public int Starts { get; internal set; }

    public bool IsRunning => Process is { HasExited: false };

    internal void Remember(string line)
    {
        lock (_gate)
        {
            _tail.Enqueue(line);
            if (_tail.Count > 400) _tail.Dequeue();
        }
    }

    /// <summary>The last lines of its output (every process it ran), for reports.</summary>
    public IReadOnlyList<string> Tail(int count)
    {
        lock (_gate) return _tail.Skip(Math.Max(0, _tail.Count - count)).ToList();
    }
}

/// <summary>
/// The store cluster under test: <c>tcpstore-server</c> processes, each in its own network namespace
/// (<see cref="NetworkLab"/>) with Akka.Remote bound to the node's own address, configured by
/// <c>hocon/cluster-local.conf</c> exactly as the README runs it, except for the addresses (each node's hostname, the
/// seed nodes n0 and n1). It follows the nodes' logs for where the singleton serves and which node became Up, starts
/// and restarts nodes (as a supervisor would), and probes that every node serves.
/// </summary>
public sealed partial class JepsenCluster : IAsyncDisposable
{
    /// <summary>The store's TCP port on every node (each node has its own address, so they can share it).</summary>
    public const int StorePort = 29500;

    public const int RemotePort = 2552;

    private static string ServerAssembly => Metadata("ServerAssembly");

    /// <summary>hocon/cluster-local.conf of this checkout: the configuration under test.</summary>
    public static string ClusterLocalConf => Metadata("ClusterLocalConf");

    private readonly object _gate = new();
    private readonly NetworkLab _lab;
    private readonly Func<long> _now;
    private readonly Action<string> _log;
    private readonly List<(long At, int Node)> _singletonEvents = [];
    private readonly List<(long At, int Node)> _upEvents = [];
    private readonly List<StreamWriter> _logWriters = [];

    private JepsenCluster(NetworkLab lab, IReadOnlyList<ClusterNode> nodes, Func<long> now, Action<string> log)
    {
        _lab = lab;
        Nodes = nodes;
        _now = now;
        _log = log;
    }

    public IReadOnlyList<ClusterNode> Nodes { get; }

    public NetworkLab Network => _lab;

    /// <summary>Every "singleton serving" line, as (time read, node), in the order read.</summary>
    public IReadOnlyList<(long At, int Node)> SingletonEvents
    {
        get
        {
            lock (_gate) return _singletonEvents.ToList();
        }
    }

    /// <summary>The node that most recently reported serving as the singleton.</summary>
    public int? Singleton
    {
        get
        {
            lock (_gate) return _singletonEvents.Count == 0 ? null : _singletonEvents[^1].Node;
        }
    }

    public static string AkkaAddress(string host) => $"akka.tcp://tcpstore@{host}:{RemotePort}";

    /// <summary>
    /// Creates the network, writes each node's configuration, starts n0 (the first seed, so the oldest node and the
    /// singleton's first home), then the others, and waits until a node serves the store and every node is Up (the
    /// split-brain resolver counts Up members only). It does not wait for n0 to serve alone: a store that needs a
    /// quorum before it serves would never do so.
    /// </summary>
    public static async Task<JepsenCluster> StartAsync(int nodes, string directory, Func<long> now, Action<string> log, TimeSpan timeout)
    {
        var lab = await NetworkLab.CreateAsync(nodes, log);
        var baseConfig = await File.ReadAllTextAsync(ClusterLocalConf);
        var members = Enumerable.Range(0, nodes).Select(i => new ClusterNode(i, lab.AddressOf(i),
            Path.Combine(directory, $"n{i}.conf"), Path.Combine(directory, $"n{i}.log"))).ToList();
        var cluster = new JepsenCluster(lab, members, now, log);
        try
        {
            foreach (var node in members)
                await File.WriteAllTextAsync(node.ConfigFile, NodeConfig(baseConfig, node.Address, lab.AddressOf(0), lab.AddressOf(Math.Min(1, nodes - 1)), nodes));

            var clock = Stopwatch.StartNew();
            cluster.Start(0);
            await Task.Delay(TimeSpan.FromSeconds(3));
            for (var i = 1; i < nodes; i++) cluster.Start(i);
            await cluster.UntilAsync(() => cluster.Singleton is not null && Enumerable.Range(0, nodes).All(cluster.IsUpSinceStart),
                timeout - clock.Elapsed, "a node serves the store and every node is Up");
            // One more gossip round, so that every node sees every other as Up.
            await Task.Delay(TimeSpan.FromSeconds(2));
            log($"cluster: {nodes} nodes up in {clock.Elapsed.TotalSeconds:0.0} s, singleton on {members[cluster.Singleton!.Value].Name}");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// hocon/cluster-local.conf as it is, then this node's addresses and the number of store nodes over it (later HOCON
    /// assignments win, and an array is replaced whole).
    /// </summary>
    public static string NodeConfig(string baseConfig, string self, string seed0, string seed1, int nodes) => $$"""
        {{baseConfig}}

        # --- Jepsen run: this node's own address in its network namespace; the seeds are n0 and n1. ---
        akka.remote.dot-netty.tcp.hostname = "{{self}}"
        akka.remote.dot-netty.tcp.port = {{RemotePort}}
        akka.cluster.seed-nodes = ["{{AkkaAddress(seed0)}}", "{{AkkaAddress(seed1)}}"]
        # The store's size is the number of nodes of the run (cluster-local.conf is written for three): quorums are
        # majorities of it, and no node is Up before all have joined.
        tcpstore.cluster.store-size = {{nodes}}
        akka.cluster.min-nr-of-members = {{nodes}}
        """;

    /// <summary>Starts (or restarts) node <paramref name="index"/> in its namespace; a running process is killed first.</summary>
    public void Start(int index)
    {
        var node = Nodes[index];
        node.Process?.Kill();
        var writer = new StreamWriter(node.LogFile, append: true) { AutoFlush = true };
        lock (_gate) _logWriters.Add(writer);
        node.Starts++;
        node.StartedAt = _now();
        writer.WriteLine($"=== start {node.Starts} at {node.StartedAt / 1e9:0.000}s ===");
        var command = _lab.InNamespace(index, "dotnet", Path.GetFullPath(ServerAssembly), "--config", node.ConfigFile,
            "--host", node.Address, "--port", StorePort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = NodeProcess.Start(command, line => OnLine(node, writer, line));
        node.Process = process;
        node.AllProcesses.Add(process);
    }

    private void OnLine(ClusterNode node, StreamWriter writer, string line)
    {
        var at = _now();
        node.Remember(line);
        lock (_gate)
        {
            try
            {
                writer.WriteLine($"{at / 1e9:0.000} {line}");
            }
            catch (ObjectDisposedException)
            {
                // The run is over.
            }
            if (SingletonServing().Match(line) is { Success: true } serving && NodeOf(serving.Groups["ip"].Value) is { } singleton)
                _singletonEvents.Add((at, singleton));
            if (MovedToUp().Match(line) is { Success: true } up && NodeOf(up.Groups["ip"].Value) is { } upNode)
                _upEvents.Add((at, upNode));
        }
    }

    private int? NodeOf(string ip) => Nodes.FirstOrDefault(n => n.Address == ip)?.Index;

    [GeneratedRegex(@"TcpStore singleton serving on akka\.tcp://tcpstore@(?<ip>[0-9.]+):")]
    private static partial Regex SingletonServing();

    [GeneratedRegex(@"Leader is moving node \[akka\.tcp://tcpstore@(?<ip>[0-9.]+):[0-9]+\] to \[Up\]")]
    private static partial Regex MovedToUp();

    /// <summary>Whether a leader moved node <paramref name="index"/>'s current process to Up.</summary>
    public bool IsUpSinceStart(int index)
    {
        lock (_gate) return _upEvents.Any(e => e.Node == index && e.At >= Nodes[index].StartedAt);
    }

    /// <summary>
    /// Whether node <paramref name="index"/> serves: a fresh connection (VALIDATE + PING, which the store answers) and a
    /// GET of a key outside the workload's, within <paramref name="timeout"/>. A read, not a write: a probe must not
    /// change what it probes (a write reaching a resumed old singleton would hold every reply after it there).
    /// </summary>
    public async Task<bool> ProbeAsync(int index, TimeSpan timeout, CancellationToken ct = default)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(timeout);
        try
        {
            using var connection = await WireConnection.OpenAsync(Nodes[index].Address, StorePort, timeout, bound.Token);
            await connection.SendAsync([new Query.Get("jepsen/probe"u8.ToArray())], bound.Token);
            return await connection.ReadAsync(QueryType.Get, 0, bound.Token) is Reply.Bytes;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>
    /// After a fault healed: restarts every node whose process exited (a supervisor's job), and a node alive but not
    /// serving <paramref name="restartUnresponsiveAfter"/> after the heal (a liveness probe's), until every node serves,
    /// every restarted one is Up, and both still hold <paramref name="stableFor"/> later (a resumed old singleton
    /// answers at first and is only downed seconds later). Returns what it had to do, or throws when the cluster did
    /// not recover within <paramref name="timeout"/>.
    /// </summary>
    public async Task<List<string>> AwaitHealthyAsync(
        TimeSpan timeout, TimeSpan restartUnresponsiveAfter, TimeSpan stableFor, CancellationToken ct = default)
    {
        var actions = new List<string>();
        var clock = Stopwatch.StartNew();
        var serving = new bool[Nodes.Count];
        var restartedAt = new TimeSpan?[Nodes.Count];
        TimeSpan? firstHealthy = null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            for (var i = 0; i < Nodes.Count; i++)
            {
                var node = Nodes[i];
                if (node.Process is { HasExited: true } exited)
                {
                    var note = $"{node.Name} had exited (code {exited.Process.ExitCode}): restarted";
                    actions.Add(note);
                    _log("recovery: " + note);
                    Start(i);
                    serving[i] = false;
                    restartedAt[i] = clock.Elapsed;
                    firstHealthy = null;
                    continue;
                }
                if (serving[i]) continue;
                serving[i] = await ProbeAsync(i, TimeSpan.FromSeconds(2), ct);
                var since = clock.Elapsed - (restartedAt[i] ?? TimeSpan.Zero);
                if (!serving[i] && since > restartUnresponsiveAfter)
                {
                    var note = $"{node.Name} was running but did not serve {since.TotalSeconds:0} s after the heal: killed and restarted";
                    actions.Add(note);
                    _log("recovery: " + note);
                    Start(i);
                    restartedAt[i] = clock.Elapsed;
                    firstHealthy = null;
                }
            }

            if (serving.All(s => s) && Enumerable.Range(0, Nodes.Count).All(i => restartedAt[i] is null || IsUpSinceStart(i)))
            {
                if (firstHealthy is null)
                {
                    // Healthy once: probe everything again after stableFor.
                    firstHealthy = clock.Elapsed;
                    Array.Clear(serving);
                }
                else if (clock.Elapsed - firstHealthy >= stableFor)
                {
                    actions.Add($"every node served {firstHealthy.Value.TotalSeconds:0.0} s after the heal, and again {stableFor.TotalSeconds:0} s later");
                    return actions;
                }
                else
                {
                    Array.Clear(serving);
                }
            }
            if (clock.Elapsed > timeout)
            {
                throw new ClusterDidNotRecoverException(
                    $"the cluster did not recover within {timeout.TotalSeconds:0} s of the heal: not serving: " +
                    string.Join(", ", Enumerable.Range(0, Nodes.Count).Where(i => !serving[i]).Select(i => Nodes[i].Name)) +
                    (actions.Count > 0 ? "; done meanwhile: " + string.Join("; ", actions) : ""));
            }
            await Task.Delay(500, ct);
        }
    }

    private async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (Nodes.FirstOrDefault(n => n.Process is { HasExited: true }) is { } exited)
                throw new InvalidOperationException($"{exited.Name} exited while waiting until {what}:\n  " + string.Join("\n  ", exited.Tail(40)));
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"not within {timeout.TotalSeconds:0} s: {what}\n" +
                                           string.Join('\n', Nodes.Select(n => $"--- {n.Name}\n  " + string.Join("\n  ", n.Tail(15)))));
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Nodes.SelectMany(n => n.AllProcesses)) await process.DisposeAsync();
        await _lab.DisposeAsync();
        lock (_gate)
        {
            foreach (var writer in _logWriters) writer.Dispose();
            _logWriters.Clear();
        }
    }

    private static string Metadata(string key) =>
        typeof(JepsenCluster).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

/// <summary>The cluster did not serve on every node within the recovery bound after a fault healed.</summary>
public sealed class ClusterDidNotRecoverException(string message) : Exception(message);
