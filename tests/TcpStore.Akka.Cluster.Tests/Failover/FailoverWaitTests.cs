using TcpStore.Akka.Client;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>
/// Issue #7: waiter registrations are not replicated. A client blocked in WAIT (or in GET of a missing key) when the
/// singleton's node dies sees its connection drop; a client that was idle keeps its connection.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class FailoverWaitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Failover_closes_connections_blocked_in_wait()
    {
        await using var cluster = await FailoverCluster.StartAsync(output);
        await using var waiterB = await FailoverCluster.ConnectAsync(cluster.B);
        await using var getterB = await FailoverCluster.ConnectAsync(cluster.B);
        await using var idleC = await FailoverCluster.ConnectAsync(cluster.C);

        await idleC.SetAsync("failover/idle", "before");
        Assert.Equal(1, await idleC.AddAsync("failover/idle-count", 1));

        var wait = waiterB.WaitAsync("failover/never", Bound);
        var get = getterB.GetAsync("failover/never-either", Bound);
        // Both requests reach the singleton before the kill: a round trip through B after them (the node forwards
        // in order), and a moment for good measure.
        await Task.Delay(500);
        await using (var other = await FailoverCluster.ConnectAsync(cluster.B))
            await other.AddAsync("failover/sync", 1);
        Assert.False(wait.IsCompleted, $"the WAIT completed before the kill: {wait.Status} {wait.Exception?.InnerException?.Message}");
        Assert.False(get.IsCompleted, $"the GET completed before the kill: {get.Status} {get.Exception?.InnerException?.Message}");

        var sinceKill = cluster.KillA();

        // Not a hang: both fail with a dropped connection (bounded; a TimeoutException here means they hung).
        var waitFailure = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => wait.WaitAsync(Bound));
        output.WriteLine($"WAIT on B failed {sinceKill.Elapsed.TotalSeconds:0.00} s after the kill: {waitFailure.Message}");
        var getFailure = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => get.WaitAsync(Bound));
        output.WriteLine($"GET on B failed {sinceKill.Elapsed.TotalSeconds:0.00} s after the kill: {getFailure.Message}");
        Assert.False(waiterB.IsConnected);

        var failover = await cluster.AwaitFailoverAsync(sinceKill, Bound);
        Assert.True(failover < Bound);

        // A fresh client on B works, waits included (the key is set through C).
        using var bound = new CancellationTokenSource(Bound);
        await using var freshB = await FailoverCluster.ConnectAsync(cluster.B);
        Assert.Equal(2, await freshB.AddAsync("failover/sync", 1, bound.Token));
        var newWait = freshB.WaitAsync("failover/after", Bound, bound.Token);
        await using (var setter = await FailoverCluster.ConnectAsync(cluster.C))
        {
            await setter.SetAsync("failover/after", "x", bound.Token);
            await setter.AddAsync("failover/sync", 0, bound.Token);
        }

        await newWait.WaitAsync(Bound);
        Assert.Equal("x", await freshB.GetStringAsync("failover/after", cancellationToken: bound.Token));

        // The client on C that was idle through the failover still has its connection, and it works.
        Assert.True(idleC.IsConnected);
        Assert.Equal(2, await idleC.AddAsync("failover/idle-count", 1, bound.Token));
        Assert.Equal("before", await idleC.GetStringAsync("failover/idle", cancellationToken: bound.Token));
    }
}
