using TcpStore.Akka.Client;
using TcpStore.Akka.Cluster.Tests.Support;
using TcpStore.TestSupport;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>
/// Standalone mode loads no cluster assembly at all (tcpstore.cluster in reference.conf): checked in the running
/// server's memory map, with a cluster-mode node as the counter-check that the map shows them when they are loaded.
/// </summary>
[Collection(FailoverCollection.Name)] // processes of their own; not beside the three-node tests
public sealed class StandaloneAssemblyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly string[] ClusterAssemblies = ["Akka.Cluster", "Akka.Remote", "Akka.DistributedData", "TcpStore.Akka.Cluster"];

    [Fact]
    public async Task Standalone_server_loads_no_cluster_assembly()
    {
        Assert.True(OperatingSystem.IsLinux(), "this test reads /proc/<pid>/maps (Linux only)");

        await using (var standalone = ServerProcess.Start(BuiltServer.Path, "standalone", "--port", "0", "--host", "127.0.0.1"))
        {
            await standalone.WaitForReadyAsync(Bound);
            await OneRequestAsync(standalone);
            var mapped = MappedAssemblies(standalone);
            output.WriteLine($"standalone maps {mapped.Count} assemblies: {string.Join(", ", mapped)}");
            Assert.Contains("TcpStore.Akka.dll", mapped); // the map shows managed assemblies at all
            Assert.Contains("Akka.dll", mapped);
            var cluster = mapped.Where(IsClusterAssembly).ToList();
            Assert.True(cluster.Count == 0, $"the standalone server loaded {string.Join(", ", cluster)}");
        }

        // The counter-check: a one-node cluster maps them.
        var directory = Directory.CreateTempSubdirectory("tcpstore-maps-").FullName;
        try
        {
            var remotePort = FailoverCluster.FreeLoopbackPorts(1)[0];
            var config = Path.Combine(directory, "cluster.conf");
            await File.WriteAllTextAsync(config, FailoverCluster.SingleNodeHocon(remotePort));
            await using var node = ServerProcess.Start(BuiltServer.Path, "cluster", "--config", config, "--cluster-port", remotePort.ToString(),
                "--port", "0", "--host", "127.0.0.1");
            await node.WaitForReadyAsync(Bound);
            await node.WaitForLineAsync("TcpStore singleton serving on", Bound);
            await OneRequestAsync(node);
            var mapped = MappedAssemblies(node);
            output.WriteLine($"cluster node maps {mapped.Count} assemblies: {string.Join(", ", mapped)}");
            Assert.Contains("Akka.Cluster.dll", mapped);
            Assert.Contains("TcpStore.Akka.Cluster.dll", mapped);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static bool IsClusterAssembly(string file) =>
        ClusterAssemblies.Any(name => file.StartsWith(name + ".", StringComparison.OrdinalIgnoreCase));

    private static async Task OneRequestAsync(ServerProcess server)
    {
        using var bound = new CancellationTokenSource(Bound);
        await using var client = await FailoverCluster.ConnectAsync(server);
        await client.SetAsync("maps/key", "value", bound.Token);
        Assert.Equal("value", await client.GetStringAsync("maps/key", cancellationToken: bound.Token));
    }

    /// <summary>The file names of the .dll files mapped into the server process.</summary>
    private static List<string> MappedAssemblies(ServerProcess server) =>
        File.ReadAllLines($"/proc/{server.Process.Id}/maps")
            .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 6)
            .Select(fields => Path.GetFileName(fields[5].Trim()))
            .Where(file => file.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
}
