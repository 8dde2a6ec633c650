using TcpStore.TestSupport;
using System.Diagnostics;
using System.Reflection;
using TcpStore.Akka.Client;
using TcpStore.Akka.Cluster.Tests.Failover;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Support;

/// <summary>
/// Three <c>tcpstore-server</c> processes started together from <c>hocon/cluster-local.conf</c> itself, as the README
/// runs them, with free ports instead of 4051-4053 (the only change). Which node hosts the store singleton is learnt
/// from the logs. Disposing kills every process and writes each node's interesting log lines to the test output.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    public static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(90);

    private static string ClusterLocalConf =>
        typeof(LocalCluster).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "ClusterLocalConf").Value!;

    private readonly ITestOutputHelper _output;
    private readonly string _directory;

    private LocalCluster(ITestOutputHelper output, string directory, int[] remotePorts, IReadOnlyList<ServerProcess> nodes)
    {
        _output = output;
        _directory = directory;
        RemotePorts = remotePorts;
        Nodes = nodes;
    }

    /// <summary>n1, n2, n3, in the order of <see cref="RemotePorts"/> (n1 and n2 are the seed nodes).</summary>
    public IReadOnlyList<ServerProcess> Nodes { get; }

    public IReadOnlyList<int> RemotePorts { get; }

    public static string Address(int remotePort) => FailoverCluster.Address(remotePort);

    /// <summary>hocon/cluster-local.conf with its three Akka.Remote ports replaced by <paramref name="ports"/>.</summary>
    public static string Hocon(int[] ports) =>
        File.ReadAllText(ClusterLocalConf)
            .Replace("127.0.0.1:4051", $"127.0.0.1:{ports[0]}", StringComparison.Ordinal)
            .Replace("127.0.0.1:4052", $"127.0.0.1:{ports[1]}", StringComparison.Ordinal)
            .Replace("port = 4051", $"port = {ports[0]}", StringComparison.Ordinal);

    /// <summary>
    /// Starts all three at once and waits until each has printed READY (bound its TCP port). <paramref name="extraHocon"/>
    /// goes after hocon/cluster-local.conf; with <paramref name="distinctHosts"/> node i listens on 127.0.0.i
    /// (<see cref="HostOf"/>), as separate machines would on one address each, so that every node can listen on the same
    /// port of a named store.
    /// </summary>
    public static async Task<LocalCluster> StartAsync(ITestOutputHelper output, string? extraHocon = null, bool distinctHosts = false)
    {
        var directory = Directory.CreateTempSubdirectory("tcpstore-local-").FullName;
        var ports = FailoverCluster.FreeLoopbackPorts(3);
        var config = Path.Combine(directory, "cluster-local.conf");
        await File.WriteAllTextAsync(config, Hocon(ports) + "\n" + extraHocon);
        var nodes = ports.Select((port, i) => ServerProcess.Start(BuiltServer.Path, $"n{i + 1}", "--config", config,
            "--cluster-port", port.ToString(), "--port", "0", "--host", distinctHosts ? HostOf(i) : "127.0.0.1")).ToList();
        for (var i = 0; i < nodes.Count; i++) nodes[i].Index = i;
        var cluster = new LocalCluster(output, directory, ports, nodes);
        try
        {
            foreach (var node in nodes) await node.WaitForReadyAsync(NodeTimeout);
            output.WriteLine($"started {string.Join(", ", nodes.Select((n, i) => $"{n.Name}={n.Port}/{ports[i]}"))} (tcp/remote)");
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The address node <paramref name="index"/> listens on when started with distinct hosts: 127.0.0.(index + 1).</summary>
    public static string HostOf(int index) => $"127.0.0.{index + 1}";

    /// <summary>The admin endpoint of <paramref name="node"/> (its <c>ADMIN &lt;port&gt;</c> line; the configuration must enable it).</summary>
    public static Uri AdminOf(ServerProcess node) =>
        new($"http://127.0.0.1:{node.Lines.First(l => l.StartsWith("ADMIN ", StringComparison.Ordinal))[6..]}/");

    /// <summary>The node whose log says it serves the store singleton (the first one that said so).</summary>
    public async Task<ServerProcess> WaitForSingletonAsync(TimeSpan timeout)
    {
        var line = await ServerProcess.WaitForLineOnAnyAsync(Nodes, "TcpStore singleton serving on", timeout);
        return NodeIn(line);
    }

    /// <summary>The node whose Akka.Remote address <paramref name="line"/> names.</summary>
    public ServerProcess NodeIn(string line)
    {
        for (var i = 0; i < RemotePorts.Count; i++)
        {
            if (line.Contains(Address(RemotePorts[i]) + " ", StringComparison.Ordinal)) return Nodes[i];
        }
        throw new InvalidOperationException($"no node's address in: {line}");
    }

    /// <summary>
    /// Returns when a fresh client of <paramref name="node"/> got ADD acknowledged; the time it took, bounded by
    /// <paramref name="limit"/> (measured by <paramref name="clock"/> when given, so that a caller can time from a
    /// kill).
    /// </summary>
    public static async Task<TimeSpan> AwaitAcknowledgedWriteAsync(ServerProcess node, string key, TimeSpan limit, Stopwatch? clock = null)
    {
        clock ??= Stopwatch.StartNew();
        while (true)
        {
            var left = limit - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no ADD acknowledged through {node.Name} within {limit.TotalSeconds:0} s");
            if (node.HasExited)
                throw new InvalidOperationException($"node {node.Name} exited ({node.Process.ExitCode}):\n{node.Tail(30)}");
            try
            {
                using var bound = new CancellationTokenSource(left);
                await using var client = await TcpStoreClient.ConnectAsync(FailoverCluster.ClientOptions(node, left), bound.Token);
                await client.AddAsync(key, 1, bound.Token);
                return clock.Elapsed;
            }
            catch (Exception e) when (e is TcpStoreException or OperationCanceledException or IOException)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        // To study a run: every line of every node, kept in this directory.
        if (Environment.GetEnvironmentVariable("TCPSTORE_TEST_LOGS") is { Length: > 0 } logs)
        {
            var run = Directory.CreateDirectory(Path.Combine(logs, DateTime.UtcNow.ToString("HHmmss.fff"))).FullName;
            foreach (var node in Nodes) await File.WriteAllLinesAsync(Path.Combine(run, node.Name + ".log"), node.Lines);
        }
        foreach (var node in Nodes)
        {
            var interesting = node.Lines.Where(FailoverCluster.Interesting).ToList();
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
}
