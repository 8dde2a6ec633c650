using TcpStore.TestSupport;
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
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    /// <summary>
    /// docs/CLUSTER.md's target on loopback is 5 s (measured there: a median of 4.2 s over 14 runs, three above 5 s, on a
    /// shared 2-core machine at a load average of 11-18, where a jittery heartbeat history slows the failure
    /// detector). The bound allows for a CI host as loaded; before issue 13's fix the same run took ~17 s, or never
    /// failed over because the survivors had downed themselves.
    /// </summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(7.5);

    [Fact]
    public async Task Kill_to_the_first_acknowledged_write_through_a_survivor_is_within_the_target()
    {
        await using var cluster = await LocalCluster.StartAsync(output);
        var singleton = await cluster.WaitForSingletonAsync(Limit);
        foreach (var node in cluster.Nodes) await node.WaitForLineAsync("TcpStore cluster ready", Limit);
        foreach (var node in cluster.Nodes) await LocalCluster.AwaitAcknowledgedWriteAsync(node, "failover-time/ready", Limit);
        var survivor = cluster.Nodes.First(n => n != singleton);

        singleton.Kill();
        var clock = Stopwatch.StartNew();
        var took = await LocalCluster.AwaitAcknowledgedWriteAsync(survivor, "failover-time/probe", Limit, clock);
        var serving = cluster.Nodes.Where(n => n != singleton).SelectMany(n => n.Lines)
            .LastOrDefault(l => l.Contains("TcpStore singleton serving on", StringComparison.Ordinal));
        output.WriteLine($"FAILOVER TIME: {took.TotalSeconds:0.00} s from kill -9 of {singleton.Name} to an ADD acknowledged through {survivor.Name}; {serving?.Trim()}");
        Assert.True(took <= Bound, $"failover took {took.TotalSeconds:0.00} s (target 5 s, bound here {Bound.TotalSeconds:0.0} s)");
    }
}
