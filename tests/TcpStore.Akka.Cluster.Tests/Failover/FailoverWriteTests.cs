using System.Diagnostics;
using System.Text;
using TcpStore.Akka.Client;
using TcpStore.TestSupport;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>
/// Issue #7: the node hosting the store singleton is killed (SIGKILL) while clients write through every node; every
/// mutation a client saw acknowledged is there afterwards, and ADD counts exactly.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class FailoverWriteTests(ITestOutputHelper output)
{
    private const string Counter = "failover/counter";
    private static readonly TimeSpan OpTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FailoverLimit = TimeSpan.FromSeconds(90);

    /// <summary>What one writer saw.</summary>
    private sealed class WriterLog(int id, string node)
    {
        public int Id { get; } = id;
        public string Node { get; set; } = node;
        public List<(string Key, string Value)> AckedSets { get; } = [];
        public List<long> AddReplies { get; } = [];
        public int AckedAfterKill { get; set; }
        public int UnansweredAdds { get; set; }  // ADDs sent (or maybe sent) whose reply never came
        public int Timeouts { get; set; }        // operations that hung for OpTimeout: a hang, never expected
        public int Reconnects { get; set; }
        public List<string> Failures { get; } = [];
    }

    [Fact]
    public async Task Failover_keeps_every_acknowledged_mutation_and_counts_exactly()
    {
        await using var cluster = await FailoverCluster.StartAsync(output);

        // Writers: one on A, three on B, three on C. A's writer moves to B once A is dead.
        var homes = new[] { cluster.A, cluster.B, cluster.B, cluster.B, cluster.C, cluster.C, cluster.C };
        var logs = homes.Select((node, i) => new WriterLog(i, node.Name)).ToArray();
        using var stop = new CancellationTokenSource();
        var writers = logs.Select((log, i) => Task.Run(() => WriteAsync(cluster, homes[i], log, stop.Token))).ToArray();

        // Every writer is acknowledged a few times before the kill.
        await Until(() => logs.All(l => Count(l) >= 20), TimeSpan.FromSeconds(60), "every writer acknowledged 20 ops");
        var ackedBeforeKill = logs.Sum(l => Count(l));

        TimeSpan failover;
        try
        {
            failover = await cluster.KillAAndAwaitFailoverAsync(FailoverLimit);
            // Writers keep going on the new singleton for a while.
            var afterFailover = logs.Sum(l => Count(l));
            await Until(() => logs.Sum(l => Count(l)) >= afterFailover + 100, TimeSpan.FromSeconds(60), "100 more acknowledged ops after the failover");
        }
        finally
        {
            await stop.CancelAsync();
        }

        var finished = Task.WhenAll(writers);
        Assert.True(await Task.WhenAny(finished, Task.Delay(OpTimeout + TimeSpan.FromSeconds(30))) == finished, "writers did not stop");
        await finished;

        var acked = logs.Sum(l => l.AddReplies.Count);
        var unanswered = logs.Sum(l => l.UnansweredAdds);
        foreach (var log in logs)
            output.WriteLine($"writer {log.Id} ({log.Node}): {log.AddReplies.Count} acknowledged ({log.AckedAfterKill} after the kill), " +
                             $"{log.UnansweredAdds} unanswered ADDs, {log.Reconnects} reconnects, {log.Timeouts} timeouts; " +
                             string.Join("; ", log.Failures.Distinct().Take(3)));
        output.WriteLine($"acknowledged: {ackedBeforeKill} before the kill, {acked} in all; {unanswered} ADDs without a reply; failover {failover.TotalSeconds:0.00} s");

        Assert.All(logs, l => Assert.Equal(0, l.Timeouts)); // a request that hung for a minute is a hang
        Assert.True(failover < FailoverLimit);
        Assert.True(logs.Sum(l => l.AckedAfterKill) > 0, "no writer was acknowledged after the kill");

        // Every acknowledged SET is there, with its value, on both survivors (fresh clients).
        var expected = logs.SelectMany(l => l.AckedSets).ToList();
        foreach (var node in new[] { cluster.B, cluster.C })
        {
            await using var reader = await FailoverCluster.ConnectAsync(node);
            var missing = new List<string>();
            var wrong = new List<string>();
            foreach (var chunk in expected.Chunk(500))
            {
                var keys = chunk.Select(e => e.Key).ToList();
                if (!await reader.CheckAsync(keys))
                {
                    foreach (var key in keys)
                        if (!await reader.CheckAsync(key)) missing.Add(key);
                    continue;
                }

                var values = await reader.MultiGetAsync(keys, TimeSpan.FromSeconds(30));
                for (var i = 0; i < chunk.Length; i++)
                    if (Encoding.UTF8.GetString(values[i]) != chunk[i].Value)
                        wrong.Add($"{chunk[i].Key}={Encoding.UTF8.GetString(values[i])} (expected {chunk[i].Value})");
            }

            Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} acknowledged keys missing on {node.Name}: {string.Join(", ", missing.Take(20))}");
            Assert.True(wrong.Count == 0, $"{wrong.Count} acknowledged keys with a wrong value on {node.Name}: {string.Join(", ", wrong.Take(20))}");
        }

        // ADD: no acknowledged increment lost, none doubled; every observed value was handed out once.
        var replies = logs.SelectMany(l => l.AddReplies).ToList();
        var duplicates = replies.GroupBy(v => v).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"ADD replies handed out twice: {string.Join(", ", duplicates.Take(20))}");

        await using var clientB = await FailoverCluster.ConnectAsync(cluster.B);
        await using var clientC = await FailoverCluster.ConnectAsync(cluster.C);
        var counter = await clientB.AddAsync(Counter, 0);
        output.WriteLine($"counter {counter}: acknowledged {acked}, unanswered {unanswered}, highest reply {replies.Max()}");
        Assert.Equal(counter, await clientC.AddAsync(Counter, 0));
        Assert.InRange(counter, acked, acked + unanswered);
        Assert.True(replies.Max() <= counter, $"a reply ({replies.Max()}) above the counter ({counter})");

        // The counter continues exactly, from both survivors.
        const int more = 40;
        var previous = counter;
        for (var i = 0; i < more; i++)
        {
            var next = await (i % 2 == 0 ? clientB : clientC).AddAsync(Counter, 1);
            Assert.Equal(previous + 1, next);
            previous = next;
        }

        Assert.Equal(counter + more, await clientC.AddAsync(Counter, 0));
        Assert.Equal(counter + more, await clientB.AddAsync(Counter, 0));
    }

    private static int Count(WriterLog log)
    {
        lock (log) return log.AddReplies.Count;
    }

    private async Task WriteAsync(FailoverCluster cluster, ServerProcess home, WriterLog log, CancellationToken stop)
    {
        var node = home;
        TcpStoreClient? client = null;
        var op = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                op++;
                var key = $"failover/w{log.Id}/k{op}";
                var value = $"{log.Id}:{op}:{node.Name}";
                var addSent = false;
                using var bound = new CancellationTokenSource(OpTimeout);
                var started = Stopwatch.StartNew();
                try
                {
                    client ??= await FailoverCluster.ConnectAsync(node, OpTimeout);
                    await client.SetAsync(key, value, bound.Token);
                    addSent = true;
                    var reply = await client.AddAsync(Counter, 1, bound.Token);
                    lock (log)
                    {
                        log.AckedSets.Add((key, value)); // acknowledged by the ADD's reply on the same connection
                        log.AddReplies.Add(reply);
                        if (cluster.AKilled) log.AckedAfterKill++;
                    }
                }
                catch (Exception e) when (e is TcpStoreException or OperationCanceledException or IOException)
                {
                    lock (log)
                    {
                        if (addSent) log.UnansweredAdds++;
                        if (started.Elapsed >= OpTimeout) log.Timeouts++;
                        log.Reconnects++;
                        log.Failures.Add($"{e.GetType().Name} on {node.Name}");
                    }

                    client?.Dispose();
                    client = null;
                    if (cluster.AKilled && node == cluster.A)
                    {
                        node = cluster.B;
                        log.Node = $"{home.Name}->B";
                    }
                }
            }
        }
        finally
        {
            client?.Dispose();
        }
    }

    private static async Task Until(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"not within {timeout.TotalSeconds:0} s: {what}");
            await Task.Delay(50);
        }
    }
}
