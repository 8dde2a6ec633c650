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
/// the test (hocon/cluster-local.conf's shape with a short failover). A starts first and hosts the store singleton
/// (the oldest node); B and C join it. Disposing kills every process and writes each node's log tail to the test
/// output.
/// </summary>
public sealed class FailoverCluster : IAsyncDisposable
{
    /// <summary>The bound of every wait for a node: start, join, singleton.</summary>
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _output;
    private readonly string _directory;
    private readonly List<ServerProcess> _nodes = [];

    private FailoverCluster(ITestOutputHelper output, string directory, int[] remotePorts)
    {
        _output = output;
        _directory = directory;
        RemotePorts = remotePorts;
    }

    /// <summary>The Akka.Remote port of A, B and C.</summary>
    public IReadOnlyList<int> RemotePorts { get; }

    public string ConfigFile => Path.Combine(_directory, "cluster.conf");

    public ServerProcess A => _nodes[0];

    /// <summary>Set just before A is killed: clients of A move to B from then on.</summary>
    public bool AKilled => _aKilled;

    private volatile bool _aKilled;
    public ServerProcess B => _nodes[1];
    public ServerProcess C => _nodes[2];

    public static string Address(int remotePort) => $"akka.tcp://tcpstore@127.0.0.1:{remotePort}";

    /// <summary>Starts A, waits until it serves the store, then starts B and C and waits until both found it.</summary>
    public static async Task<FailoverCluster> StartAsync(ITestOutputHelper output)
    {
        var directory = Directory.CreateTempSubdirectory("tcpstore-failover-").FullName;
        var cluster = new FailoverCluster(output, directory, FreeLoopbackPorts(3));
        try
        {
            await File.WriteAllTextAsync(cluster.ConfigFile, Hocon(cluster.RemotePorts[0], cluster.RemotePorts[1]));
            var started = Stopwatch.StartNew();
            var a = cluster.StartNode("A", cluster.RemotePorts[0]);
            await a.WaitForReadyAsync(NodeTimeout);
            await a.WaitForLineAsync($"TcpStore singleton serving on {Address(cluster.RemotePorts[0])}", NodeTimeout);

            var b = cluster.StartNode("B", cluster.RemotePorts[1]);
            var c = cluster.StartNode("C", cluster.RemotePorts[2]);
            foreach (var node in new[] { b, c })
            {
                await node.WaitForReadyAsync(NodeTimeout);
                // The gateway found the singleton on A: the node is a member and its requests reach the store.
                await node.WaitForLineAsync("TcpStore singleton found at", NodeTimeout);
            }

            // Found is not Up: the split-brain resolver counts Up members only. Killed while C was still joining,
            // A and B are an even split, which keeps the side with the lowest address (in CI: A; B and C were downed).
            // The leader logs when it moves a node to Up; one more gossip round (1 s) tells the others. The leader
            // is the Up member with the lowest address, not the oldest: with random ports it is A, B or C, and it
            // changes as nodes come Up (seen in CI: C took over from A and moved B to Up itself).
            foreach (var port in cluster.RemotePorts.Skip(1))
                await ServerProcess.WaitForLineOnAnyAsync(cluster._nodes, $"Leader is moving node [{Address(port)}] to [Up]", NodeTimeout);
            await Task.Delay(TimeSpan.FromSeconds(2));

            output.WriteLine($"cluster up in {started.ElapsedMilliseconds} ms: A={a.Port}/{cluster.RemotePorts[0]} " +
                             $"B={b.Port}/{cluster.RemotePorts[1]} C={c.Port}/{cluster.RemotePorts[2]} (tcp/remote)");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The generated configuration: hocon/cluster-local.conf with fresh ports, A and B as seeds, and a failover
    /// shortened for the test (see the comments).
    /// </summary>
    public static string Hocon(params int[] seeds) => $$"""
        tcpstore.cluster.enabled = on

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

            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            split-brain-resolver {
              active-strategy = keep-majority
              # A short failover for the test (cluster-local.conf: 5s, Akka's default 20s). The singleton manager
              # also waits this long (its removal margin) before it starts the new singleton.
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

    private ServerProcess StartNode(string name, int remotePort)
    {
        var node = ServerProcess.Start(BuiltServer.Path, name, "--config", ConfigFile, "--cluster-port", remotePort.ToString(),
            "--port", "0", "--host", "127.0.0.1");
        _nodes.Add(node);
        return node;
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

    private static bool Interesting(string line) =>
        !line.Contains("dead letters encountered", StringComparison.Ordinal) && (line.Contains("warn", StringComparison.OrdinalIgnoreCase) || line.Contains("fail", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("erro", StringComparison.OrdinalIgnoreCase) || line.Contains("crit", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("singleton", StringComparison.OrdinalIgnoreCase) || line.Contains("Unreachable", StringComparison.OrdinalIgnoreCase) ||
        line.Contains("down", StringComparison.OrdinalIgnoreCase) || line.Contains("READY", StringComparison.Ordinal) ||
        line.Contains("[stderr]", StringComparison.Ordinal));
}
