using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TcpStore.Akka.Client;
using TcpStore.Akka.Cluster.Tests.Support;
using TcpStore.TestSupport;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>The three-node tests start processes and kill them: one at a time, never beside each other.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FailoverCollection
{
    public const string Name = "Failover (three tcpstore-server processes)";
}

/// <summary>
/// Three <c>tcpstore-server</c> processes (A, B, C) forming one cluster on loopback, with a HOCON file generated for
/// the test (hocon/cluster-local.conf's shape with a more tolerant failure detector). All three start together (none
/// is Up before all have joined); once each has logged that the cluster store is ready, A names the node that hosts
/// the store singleton (the oldest) and B and C the others. Disposing kills every process and writes each node's log
/// tail to the test output.
/// </summary>
public sealed class FailoverCluster : IAsyncDisposable
{
    /// <summary>The bound of every wait for a node: start, join, singleton.</summary>
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    private readonly ITestOutputHelper _output;
    private readonly string _directory;
    private readonly List<ServerProcess> _nodes = [];

    private FailoverCluster(ITestOutputHelper output, string directory, int[] remotePorts)
    {
        _output = output;
        _directory = directory;
        _remotePorts = remotePorts;
    }

    private readonly int[] _remotePorts;

    /// <summary>The Akka.Remote port of A, B and C.</summary>
    public IReadOnlyList<int> RemotePorts => _nodes.Select(n => _remotePorts[n.Index]).ToList();

    public string ConfigFile => Path.Combine(_directory, "cluster.conf");

    /// <summary>The node that hosts the store singleton once the cluster has formed.</summary>
    public ServerProcess A => _nodes[0];

    /// <summary>Set just before A is killed: clients of A move to B from then on.</summary>
    public bool AKilled => _aKilled;

    private volatile bool _aKilled;
    public ServerProcess B => _nodes[1];
    public ServerProcess C => _nodes[2];

    public static string Address(int remotePort) => $"akka.tcp://tcpstore@127.0.0.1:{remotePort}";

    /// <summary>
    /// Starts three nodes together, waits until each logs that the cluster store is ready (every store node Up in its
    /// view, the singleton found), and names them: A hosts the singleton.
    /// </summary>
    public static async Task<FailoverCluster> StartAsync(ITestOutputHelper output)
    {
        var directory = Directory.CreateTempSubdirectory("tcpstore-failover-").FullName;
        var cluster = new FailoverCluster(output, directory, FreeLoopbackPorts(3));
        try
        {
            await File.WriteAllTextAsync(cluster.ConfigFile, Hocon(cluster._remotePorts[0], cluster._remotePorts[1]));
            var started = Stopwatch.StartNew();
            for (var i = 0; i < 3; i++) cluster.StartNode(i);
            foreach (var node in cluster._nodes) await node.WaitForReadyAsync(NodeTimeout);
            foreach (var node in cluster._nodes) await node.WaitForLineAsync("TcpStore cluster ready", NodeTimeout);

            var serving = await ServerProcess.WaitForLineOnAnyAsync(cluster._nodes, "TcpStore singleton serving on", NodeTimeout);
            var host = cluster._nodes.Single(n => serving.Contains(Address(cluster._remotePorts[n.Index]) + " ", StringComparison.Ordinal));
            cluster._nodes.Remove(host);
            cluster._nodes.Insert(0, host);
            for (var i = 0; i < 3; i++) cluster._nodes[i].Name = ((char)('A' + i)).ToString();

            output.WriteLine($"cluster up in {started.ElapsedMilliseconds} ms: " + string.Join(" ", cluster._nodes.Select(n =>
                $"{n.Name}={n.Port}/{cluster._remotePorts[n.Index]}")) + " (tcp/remote); A hosts the store singleton");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The generated configuration: hocon/cluster-local.conf's shape with fresh ports, the first two nodes as seeds,
    /// and a failure detector more tolerant of a loaded machine (see the comments).
    /// </summary>
    public static string Hocon(params int[] seeds) => ConfigFor(storeSize: 3, seeds);

    /// <summary><see cref="Hocon(int[])"/> for a cluster of one node (<c>store-size = 1</c>).</summary>
    public static string SingleNodeHocon(int remotePort) => ConfigFor(storeSize: 1, [remotePort]);

    private static string ConfigFor(int storeSize, int[] seeds) => $$"""
        tcpstore.cluster.enabled = on
        tcpstore.cluster.store-size = {{storeSize}}

        akka {
          actor.provider = cluster

          remote.dot-netty.tcp {
            hostname = "127.0.0.1"
            port = 0  # --cluster-port sets it per node
            # As in hocon/cluster-local.conf: a frame must hold the largest value (8 MiB) and then some.
            maximum-frame-size = 32MiB
            send-buffer-size = 32MiB
            receive-buffer-size = 32MiB
            batching.enabled = false
          }

          cluster {
            seed-nodes = [{{string.Join(", ", seeds.Select(s => $"\"{Address(s)}\""))}}]
            roles = ["tcpstore"]
            distributed-data.role = "tcpstore"
            # As in hocon/cluster-local.conf: no store node Up before all have joined, none WeaklyUp (issue 13, hole 7).
            min-nr-of-members = {{storeSize}}
            allow-weakly-up-members = off

            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            split-brain-resolver {
              active-strategy = keep-majority
              # Longer than hocon/cluster-local.conf's 1 s: these tests run beside other work on a loaded machine.
              stable-after = 2s
              # Akka derives it from stable-after (3/4, at least 4s): with a 2s stable-after, a leader change that
              # takes a few seconds on a loaded machine (measured: 6 s in CI) made the resolver down every node.
              down-all-when-unstable = 15s
            }

            # Akka's default pause (3s), not shorter: on a loaded 2-core CI machine a live node that misses its
            # heartbeats longer than this is downed by the resolver, and its clients' connections with it.
            failure-detector.acceptable-heartbeat-pause = 3s

            # The first node joins itself after this long without an answer from the other seed (Akka: 5s).
            seed-node-timeout = 2s
          }
        }
        """;

    private void StartNode(int index)
    {
        var node = ServerProcess.Start(BuiltServer.Path, $"n{index + 1}", "--config", ConfigFile, "--cluster-port", _remotePorts[index].ToString(),
            "--port", "0", "--host", "127.0.0.1");
        node.Index = index;
        _nodes.Add(node);
    }

    /// <summary>
    /// Free loopback ports, found by binding port 0 (all at once, so they differ) and releasing them. Another process
    /// could take one before the node binds it; then the node fails to start and the test says so.
    /// </summary>
    public static int[] FreeLoopbackPorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }

    /// <summary>Options of a client of <paramref name="node"/>: no reconnect, short connect backoff, bounded connect.</summary>
    public static TcpStoreClientOptions ClientOptions(ServerProcess node, TimeSpan? connectTimeout = null) => new()
    {
        Host = "127.0.0.1",
        Port = node.Port,
        Timeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(60),
        InitialBackoff = TimeSpan.FromMilliseconds(100),
        MaxBackoff = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A fresh, connected client of <paramref name="node"/> (connecting is bounded by the options).</summary>
    public static Task<TcpStoreClient> ConnectAsync(ServerProcess node, TimeSpan? connectTimeout = null) =>
        TcpStoreClient.ConnectAsync(ClientOptions(node, connectTimeout));

    /// <summary>
    /// Kills A (SIGKILL) and returns when a fresh client on a survivor got a reply to a request made after the
    /// kill: the failover time, measured from the kill (bounded by <paramref name="limit"/>). Also logs which node
    /// took over the singleton.
    /// </summary>
    public Task<TimeSpan> KillAAndAwaitFailoverAsync(TimeSpan limit) => AwaitFailoverAsync(KillA(), limit);

    /// <summary>Kills A (SIGKILL, no leaving); returns a clock started at the kill.</summary>
    public Stopwatch KillA()
    {
        _aKilled = true;
        A.Kill();
        var clock = Stopwatch.StartNew();
        _output.WriteLine($"killed A (pid {A.Process.Id}) with SIGKILL");
        return clock;
    }

    /// <summary>
    /// Returns when a fresh client on a survivor got a reply to a request made after the kill: the failover time,
    /// measured by <paramref name="clock"/> from the kill (bounded by <paramref name="limit"/>).
    /// </summary>
    public async Task<TimeSpan> AwaitFailoverAsync(Stopwatch clock, TimeSpan limit)
    {
        var survivors = new[] { B, C };
        for (var attempt = 0; ; attempt++)
        {
            var left = limit - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no survivor answered a fresh client within {limit.TotalSeconds:0} s of the kill");
            var node = survivors[attempt % 2];
            try
            {
                using var bound = new CancellationTokenSource(left);
                await using var client = await TcpStoreClient.ConnectAsync(ClientOptions(node, left), bound.Token);
                await client.AddAsync("failover/probe", 1, bound.Token);
                var elapsed = clock.Elapsed;
                var serving = survivors.SelectMany(n => n.Lines).FirstOrDefault(l => l.Contains("TcpStore singleton serving on", StringComparison.Ordinal));
                _output.WriteLine($"FAILOVER TIME: {elapsed.TotalSeconds:0.00} s (kill -> first reply to a fresh client on {node.Name}); " +
                                  $"new singleton: {serving?.Trim() ?? "(not logged yet)"}");
                return elapsed;
            }
            catch (Exception e) when (e is TcpStoreException or OperationCanceledException or IOException)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var node in _nodes)
        {
            var interesting = node.Lines.Where(Interesting).ToList();
            _output.WriteLine($"--- node {node.Name}: {node.Lines.Count} lines, {interesting.Count} shown ---");
            foreach (var line in interesting.TakeLast(80)) _output.WriteLine($"  {node.Name}| {line}");
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal static bool Interesting(string line) =>
        !line.Contains("dead letters encountered", StringComparison.Ordinal) && (line.Contains("warn", StringComparison.OrdinalIgnoreCase) || line.Contains("fail", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("erro", StringComparison.OrdinalIgnoreCase) || line.Contains("crit", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("singleton", StringComparison.OrdinalIgnoreCase) || line.Contains("Unreachable", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("down", StringComparison.OrdinalIgnoreCase) || line.Contains("READY", StringComparison.Ordinal) ||
        line.Contains("[stderr]", StringComparison.Ordinal));
}
