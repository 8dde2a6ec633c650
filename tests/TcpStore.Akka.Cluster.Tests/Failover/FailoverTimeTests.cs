using System.Diagnostics;
using TcpStore.Akka.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>
/// Issue 13, hole 8: failover as a user feels it, with hocon/cluster-local.conf as the README runs it: from
/// <c>kill -9</c> of the singleton's node to the first write acknowledged through a surviving node.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class FailoverTimeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    /// <summary>docs/CLUSTER.md's target on loopback.</summary>
    private static readonly TimeSpan Target = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Kill_to_the_first_acknowledged_write_through_a_survivor_is_within_five_seconds()
    {
        await using var cluster = await LocalCluster.StartAsync(output);
        var singleton = await cluster.WaitForSingletonAsync(Bound);
        foreach (var node in cluster.Nodes) await LocalCluster.AwaitAcknowledgedWriteAsync(node, "failover-time/ready", Bound);
        var survivor = cluster.Nodes.First(n => n != singleton);

        singleton.Kill();
        var clock = Stopwatch.StartNew();
        var took = await LocalCluster.AwaitAcknowledgedWriteAsync(survivor, "failover-time/probe", Bound, clock);
        var serving = cluster.Nodes.Where(n => n != singleton).SelectMany(n => n.Lines)
            .LastOrDefault(l => l.Contains("TcpStore singleton serving on", StringComparison.Ordinal));
        output.WriteLine($"FAILOVER TIME: {took.TotalSeconds:0.00} s from kill -9 of {singleton.Name} to an ADD acknowledged through {survivor.Name}; {serving?.Trim()}");
        Assert.True(took <= Target, $"failover took {took.TotalSeconds:0.00} s (target {Target.TotalSeconds:0} s)");
    }
}
