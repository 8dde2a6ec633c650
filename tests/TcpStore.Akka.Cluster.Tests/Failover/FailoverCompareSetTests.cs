using System.Diagnostics;
using TcpStore.Akka.Client;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Failover;

/// <summary>
/// Issue #7: COMPARE_SET stays linearizable across the loss of the singleton's node. Clients on A, B and C extend one
/// chain of values (<c>index:worker:attempt</c>, so every desired value is unique and a reply equal to it means this
/// very attempt succeeded) before the kill and after it.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class FailoverCompareSetTests(ITestOutputHelper output)
{
    private const string Key = "failover/chain";
    private static readonly TimeSpan OpTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);

    /// <summary>One COMPARE_SET: its reply (the value then stored), or null when the connection broke first.</summary>
    private sealed record Attempt(int Worker, int Seq, string Expected, string Desired, string? Reply, bool AfterKill, double SentMs, double DoneMs)
    {
        public bool Succeeded => Reply == Desired;
        public override string ToString() => $"w{Worker}#{Seq} CAS({Show(Expected)} -> {Desired}) = {Reply ?? "no reply"} [{SentMs:0}..{DoneMs:0} ms{(AfterKill ? ", sent after A was marked killed" : "")}]";
    }

    private static string Show(string value) => value.Length == 0 ? "<missing>" : value;

    private static int Index(string value) => value.Length == 0 ? -1 : int.Parse(value.Split(':')[0]);

    [Fact]
    public async Task Failover_keeps_compare_set_linearizable()
    {
        await using var cluster = await FailoverCluster.StartAsync(output);
        var homes = new[] { cluster.A, cluster.B, cluster.B, cluster.C, cluster.C };
        var attempts = homes.Select(_ => new List<Attempt>()).ToArray();
        var paused = homes.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pause = 0;
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew(); // attempts are timed on it; the kill's moment is noted too
        var killedAtMs = double.NaN;

        var workers = homes.Select((home, w) => Task.Run(async () =>
        {
            var node = home;
            var expected = ""; // creates the key when it is missing; otherwise the reply is the current value
            TcpStoreClient? client = null;
            try
            {
                for (var seq = 0; !stop.IsCancellationRequested; seq++)
                {
                    if (Volatile.Read(ref pause) == 1 && !resume.Task.IsCompleted)
                    {
                        paused[w].TrySetResult();
                        if (await Task.WhenAny(resume.Task, Task.Delay(Bound)) != resume.Task) return;
                    }

                    var sent = expected;
                    var desired = $"{Index(sent) + 1}:{w}:{seq}";
                    var afterKill = cluster.AKilled;
                    var sentMs = clock.Elapsed.TotalMilliseconds;
                    string? reply = null;
                    try
                    {
                        using var bound = new CancellationTokenSource(OpTimeout);
                        client ??= await FailoverCluster.ConnectAsync(node, OpTimeout);
                        reply = await client.CompareSetAsync(Key, sent, desired, bound.Token);
                        expected = reply;
                    }
                    catch (Exception e) when (e is TcpStoreException or OperationCanceledException or IOException)
                    {
                        client?.Dispose();
                        client = null;
                        if (cluster.AKilled && node == cluster.A) node = cluster.B;
                        // expected stays: if the lost attempt took effect, the next reply shows the value it stored.
                    }

                    lock (attempts[w]) attempts[w].Add(new Attempt(w, seq, sent, desired, reply, afterKill, sentMs, clock.Elapsed.TotalMilliseconds));
                }
            }
            finally
            {
                client?.Dispose();
            }
        })).ToArray();

        int Successes() => attempts.Sum(a => { lock (a) return a.Count(x => x.Succeeded); });

        string valueAfterFailover;
        TimeSpan failover;
        try
        {
            await Until(() => Successes() >= 60 && attempts.All(a => { lock (a) return a.Count >= 5; }), "60 chain links");

            // Kill A while CAS requests are in flight; then workers stop after the request they have out, so that
            // the value read right after the failover can be compared with everything acknowledged before it.
            var sinceKill = cluster.KillA();
            killedAtMs = clock.Elapsed.TotalMilliseconds;
            Volatile.Write(ref pause, 1);
            failover = await cluster.AwaitFailoverAsync(sinceKill, Bound);
            var allPaused = Task.WhenAll(paused.Select(p => p.Task));
            Assert.True(await Task.WhenAny(allPaused, Task.Delay(Bound)) == allPaused, "a worker's request neither completed nor failed");

            await using (var reader = await FailoverCluster.ConnectAsync(cluster.C))
                valueAfterFailover = System.Text.Encoding.UTF8.GetString(await reader.GetAsync(Key, TimeSpan.FromSeconds(30)));

            var before = All(attempts);
            var observed = before.Where(a => a.Reply is not null).Select(a => a.Reply!).ToList();
            var last = observed.MaxBy(Index)!;
            var inFlight = before.Where(a => a.Reply is null && a.Expected == last).Select(a => a.Desired).ToList();
            output.WriteLine($"before the kill: {before.Count} attempts, {before.Count(a => a.Succeeded)} successes, " +
                             $"{before.Count(a => a.Reply is null)} without reply; last acknowledged {last}; " +
                             $"in flight from it: [{string.Join(", ", inFlight)}]; value after failover: {valueAfterFailover}");
            output.WriteLine($"killed at {killedAtMs:0} ms; requests out at the kill: " +
                             string.Join("; ", before.Where(a => a.SentMs <= killedAtMs && a.DoneMs >= killedAtMs)));
            Assert.True(valueAfterFailover == last || inFlight.Contains(valueAfterFailover),
                $"after the failover the value is {valueAfterFailover}, not the last acknowledged {last} nor one of its in-flight successors [{string.Join(", ", inFlight)}]");

            // The chain goes on from the new singleton, through B and C (A's worker now on B).
            var resumedAt = Successes();
            resume.TrySetResult();
            await Until(() => Successes() >= resumedAt + 60, "60 more chain links after the failover");
        }
        finally
        {
            resume.TrySetResult();
            await stop.CancelAsync();
        }

        var done = Task.WhenAll(workers);
        Assert.True(await Task.WhenAny(done, Task.Delay(OpTimeout + TimeSpan.FromSeconds(30))) == done, "workers did not stop");
        await done;

        string final;
        await using (var reader = await FailoverCluster.ConnectAsync(cluster.B))
            final = System.Text.Encoding.UTF8.GetString(await reader.GetAsync(Key, TimeSpan.FromSeconds(30)));
        var all = All(attempts);
        output.WriteLine($"{all.Count} attempts, {all.Count(a => a.Succeeded)} successes ({all.Count(a => a.Succeeded && a.AfterKill)} after the kill), " +
                         $"{all.Count(a => a.Reply is null)} without reply; final {final}; failover {failover.TotalSeconds:0.00} s");
        CheckChain(all, [valueAfterFailover, final], final);
    }

    /// <summary>
    /// The linearizability of one register under COMPARE_SET with unique desired values: the values stored form a
    /// single chain from the missing key; every acknowledged success, every value a reply showed and the final value
    /// lie on it; no two attempts took effect from the same expected value; each client saw the chain only move on.
    /// </summary>
    private void CheckChain(List<Attempt> all, IReadOnlyList<string> alsoObserved, string final)
    {
        // No fork: at most one acknowledged success from each expected value.
        var forks = all.Where(a => a.Succeeded).GroupBy(a => a.Expected).Where(g => g.Count() > 1).ToList();
        Assert.True(forks.Count == 0, "two successes from the same expected value: " +
                                      string.Join(" | ", forks.Take(5).Select(g => string.Join(", ", g))));

        // Values that anyone saw; an attempt without reply took effect iff its desired value was seen.
        var observed = all.Where(a => a.Reply is not null).Select(a => a.Reply!).Concat(alsoObserved).ToHashSet();
        var effective = all.Where(a => a.Succeeded || (a.Reply is null && observed.Contains(a.Desired))).ToList();
        var links = new Dictionary<string, Attempt>();
        foreach (var link in effective)
        {
            Assert.True(links.TryAdd(link.Expected, link),
                $"two attempts took effect from {Show(link.Expected)}: {links.GetValueOrDefault(link.Expected)} and {link}");
        }

        var chain = new List<string>();
        var position = new Dictionary<string, int>();
        for (var value = ""; links.TryGetValue(value, out var next);)
        {
            value = next.Desired;
            Assert.True(position.TryAdd(value, chain.Count), $"the chain loops at {value}");
            chain.Add(value);
        }

        output.WriteLine($"chain: {chain.Count} links, {effective.Count(a => !a.Succeeded)} of them by attempts without reply; ends at {chain.LastOrDefault()}");
        var offChain = observed.Where(v => !position.ContainsKey(v)).ToList();
        Assert.True(offChain.Count == 0, $"values seen that are not on the chain (lost or forked): {string.Join(", ", offChain.Take(10))}");
        Assert.True(effective.All(a => position.ContainsKey(a.Desired)), "an acknowledged success is not on the chain");
        Assert.Equal(chain[^1], final);

        // Each client's replies move along the chain, never back (a successor read an older state otherwise).
        foreach (var worker in all.GroupBy(a => a.Worker))
        {
            var seen = worker.OrderBy(a => a.Seq).Where(a => a.Reply is not null).Select(a => (a, position[a.Reply!])).ToList();
            for (var i = 1; i < seen.Count; i++)
                Assert.True(seen[i].Item2 >= seen[i - 1].Item2,
                    $"worker {worker.Key} went back along the chain: {seen[i - 1].a} then {seen[i].a}");
        }
    }

    private static List<Attempt> All(List<Attempt>[] attempts) =>
        attempts.SelectMany(a => { lock (a) return a.ToList(); }).ToList();

    private static async Task Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Bound) throw new TimeoutException($"not within {Bound.TotalSeconds:0} s: {what}");
            await Task.Delay(50);
        }
    }
}
