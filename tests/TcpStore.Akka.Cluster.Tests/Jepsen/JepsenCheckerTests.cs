using System.Diagnostics;
using TcpStore.Akka.Jepsen.Checker;
using TcpStore.Akka.Jepsen.History;
using Xunit.Abstractions;

namespace TcpStore.Akka.Cluster.Tests.Jepsen;

/// <summary>
/// The Jepsen run's checker, tested on hand-made histories: each kind of anomaly the run looks for is rejected, and
/// linearizable histories (with concurrency and operations of unknown outcome) are accepted. Fast; no process.
/// </summary>
public sealed class JepsenCheckerTests(ITestOutputHelper output)
{
    private const string R = "r/0.0";
    private const string C = "c/0.0";
    private const string Q = "q/0.0";

    private CheckReport Check(TestHistory history, CheckerOptions? options = null)
    {
        var report = HistoryChecker.Check(history.Operations, options);
        output.WriteLine(report.ToString());
        return report;
    }

    private void AssertRejected(TestHistory history, string mentioned)
    {
        var report = Check(history);
        Assert.Equal("INVALID", report.Verdict);
        Assert.Contains(report.Violations, v => v.Contains(mentioned, StringComparison.Ordinal));
    }

    private void AssertAccepted(TestHistory history)
    {
        var report = Check(history);
        Assert.True(report.Valid, report.ToString());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Rejected
    // ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Jepsen_checker_rejects_a_stale_read_after_an_acknowledged_compare_set()
    {
        // Issue 13, hole 1: CAS v1 -> v2 acknowledged through one node, then a read (invoked later) answers v1.
        var h = new TestHistory();
        h.Set(R, "v1", 0, 10);
        h.CompareSet(R, "v1", "v2", "v2", 20, 30);
        h.Get(R, "v1", 40, 50);
        h.Final(100, (R, "v2"));
        AssertRejected(h, $"key {R} (register");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_lost_acknowledged_add()
    {
        var h = new TestHistory();
        h.Add(C, 1, 1, 0, 10);
        h.Add(C, 1, 2, 20, 30);
        h.Get(C, "1", 40, 50);
        h.Final(100, (C, "1"));
        var report = Check(h);
        Assert.Contains(report.Violations, v => v.Contains($"key {C} (counter", StringComparison.Ordinal));
        Assert.Contains(report.Violations, v => v.Contains("an acknowledged increment was lost", StringComparison.Ordinal));
    }

    [Fact]
    public void Jepsen_checker_rejects_an_increment_applied_twice()
    {
        var h = new TestHistory();
        h.Add(C, 1, 1, 0, 10);
        h.Add(C, 1, null, 20, null);
        h.Final(100, (C, "3"));
        AssertRejected(h, "an increment was applied twice");
    }

    [Fact]
    public void Jepsen_checker_rejects_two_compare_set_winners()
    {
        var h = new TestHistory();
        h.Set(R, "v0", 0, 10);
        h.CompareSet(R, "v0", "a", "a", 20, 40);
        h.CompareSet(R, "v0", "b", "b", 25, 45);
        AssertRejected(h, $"key {R} (register");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_compare_set_of_a_missing_key_that_claims_it_stored()
    {
        // PyTorch's second case (docs/PROTOCOL.md §2.4): a missing key with a non-empty expected stores nothing and
        // answers expected — so a later read of desired is impossible.
        var h = new TestHistory();
        h.CompareSet(R, "x", "y", "x", 0, 10);
        h.Get(R, "y", 20, 30);
        AssertRejected(h, $"key {R} (register");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_half_applied_multi_set()
    {
        string[] group = ["m/7/0", "m/7/1", "m/7/2"];
        var h = new TestHistory();
        h.MultiSet(group, ["a", "b", "c"], 0, null);
        h.Final(100, ("m/7/0", "a"), ("m/7/1", ""), ("m/7/2", "c"));
        AssertRejected(h, "MULTI_SET applied in part");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_multi_set_seen_in_part_by_a_read_during_the_run()
    {
        string[] group = ["m/8/0", "m/8/1"];
        var h = new TestHistory();
        h.MultiSet(group, ["a", "b"], 0, 10);
        h.MultiGet(group, ["a", ""], 5, 8); // concurrent with the MULTI_SET, yet it saw half of it
        h.Final(100, ("m/8/0", "a"), ("m/8/1", "b"));
        AssertRejected(h, "MULTI_SET applied in part");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_survivor_that_is_not_a_prefix_of_its_connection()
    {
        // One connection pipelined three writes; the connection broke. The third survived, the second did not.
        var h = new TestHistory();
        h.Set("p/5/0", "a", 0, 10, connection: 5, sequence: 0);
        h.Set("p/5/1", "b", 20, null, connection: 5, sequence: 1);
        h.Set("p/5/2", "c", 20, null, connection: 5, sequence: 2);
        h.Final(100, ("p/5/0", "a"), ("p/5/1", ""), ("p/5/2", "c"));
        AssertRejected(h, "is not a prefix of them");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_lost_acknowledged_write_of_a_connection()
    {
        var h = new TestHistory();
        h.Set("p/6/0", "a", 0, 10, connection: 6, sequence: 0);
        h.Final(100, ("p/6/0", ""));
        AssertRejected(h, "acknowledged writes are missing");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_rendezvous_that_counts_an_arrival_without_its_address()
    {
        // Issue 13, hole 2: rank 1 pipelined SET of its address and ADD of the count; after failover the count has it
        // and the address does not.
        var h = new TestHistory();
        h.Set("v/3/rank/0", "addr0", 0, 10, connection: 1, sequence: 0);
        h.Add("v/3/arrived", 1, 1, 0, 10);
        h.Set("v/3/rank/1", "addr1", 20, null, connection: 2, sequence: 0);
        h.Add("v/3/arrived", 1, null, 20, null);
        h.Final(100, ("v/3/arrived", "2"), ("v/3/rank/0", "addr0"), ("v/3/rank/1", ""));
        AssertRejected(h, "counts 2 arrivals but only 1 rank addresses are present");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_queue_item_popped_twice()
    {
        var h = new TestHistory();
        h.Push(Q, "a", 0, 10);
        h.Push(Q, "b", 12, 20);
        h.Pop(Q, 2, "a", 30, 40);
        h.Pop(Q, 2, "a", 50, 60);
        AssertRejected(h, $"key {Q} (queue");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_queue_that_reorders()
    {
        var h = new TestHistory();
        h.Push(Q, "a", 0, 10);
        h.Push(Q, "b", 20, 30);
        h.Pop(Q, 2, "b", 40, 50);
        AssertRejected(h, $"key {Q} (queue");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_wait_answered_before_its_key_existed()
    {
        var h = new TestHistory();
        h.Wait(R, 0, 10);
        h.Set(R, "v", 20, 30);
        AssertRejected(h, $"key {R} (register");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_barrier_released_before_the_world_arrived()
    {
        var h = new TestHistory();
        h.Barrier("b/1", 3, 0, 50);
        h.Barrier("b/1", 3, 10, 50);
        h.Barrier("b/1", 3, 60, 70); // the third arrival came after both were released
        AssertRejected(h, "key b/1 (counter");
    }

    [Fact]
    public void Jepsen_checker_rejects_a_read_of_a_deleted_key()
    {
        var h = new TestHistory();
        h.Set(R, "v", 0, 10);
        h.Delete(R, true, 20, 30);
        h.Check(R, true, 40, 50);
        AssertRejected(h, $"key {R} (register");
    }

    [Fact]
    public void Jepsen_checker_shows_the_linearization_it_got_stuck_after()
    {
        var h = new TestHistory();
        h.Set(R, "v1", 0, 10);
        h.CompareSet(R, "v1", "v2", "v2", 20, 30);
        h.Get(R, "v1", 40, 50);
        var report = Check(h);
        var violation = Assert.Single(report.Violations);
        Assert.Contains("longest linearization found (2 operations)", violation, StringComparison.Ordinal);
        Assert.Contains("=> 'v2'", violation, StringComparison.Ordinal);
        Assert.Contains("then no order linearizes, before it returned: #2", violation, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Accepted
    // ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Jepsen_checker_accepts_concurrent_writes_read_in_either_order()
    {
        var h = new TestHistory();
        h.Set(R, "a", 0, 100);
        h.Set(R, "b", 10, 90);
        h.Get(R, "a", 20, 30);  // a linearized first ...
        h.Get(R, "b", 40, 50);  // ... then b
        h.Get(R, "b", 110, 120);
        h.Final(200, (R, "b"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_unknown_writes_that_took_effect_late_or_never()
    {
        var h = new TestHistory();
        h.Set(R, "a", 0, 10);
        h.Set(R, "lost", 20, null);     // never took effect
        h.Get(R, "a", 30, 40);
        h.Set(R, "late", 50, null);     // took effect long after its connection broke
        h.Get(R, "a", 60, 70);
        h.Get(R, "late", 80, 90);
        h.Add(C, 1, 1, 0, 10);
        h.Add(C, 1, null, 20, null);    // applied
        h.Add(C, 1, null, 20, null);    // not applied
        h.Final(200, (R, "late"), (C, "2"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_pytorchs_four_compare_set_cases()
    {
        var h = new TestHistory();
        h.CompareSet(R, "x", "y", "x", 0, 10);     // missing, expected non-empty: nothing, answers expected
        h.Get(R, "", 20, 30);
        h.CompareSet(R, "", "a", "a", 40, 50);     // missing, expected empty: stores desired
        h.CompareSet(R, "a", "b", "b", 60, 70);    // present and equal: stores desired
        h.CompareSet(R, "a", "c", "b", 80, 90);    // present and different: answers the current value
        h.CompareSet(R, "", "d", "b", 100, 110);   // a non-empty current never matches an empty expected
        h.Final(200, (R, "b"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_a_compare_set_chain_with_an_unknown_link()
    {
        var h = new TestHistory();
        h.CompareSet(R, "", "1", "1", 0, 10);
        h.CompareSet(R, "1", "2", null, 20, null);   // the connection broke: maybe
        h.CompareSet(R, "2", "3", "3", 30, 40);      // so it did happen
        h.CompareSet(R, "1", "4", "3", 50, 60);
        h.Final(200, (R, "3"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_append_delete_check_and_wait()
    {
        var h = new TestHistory();
        h.Wait(R, 0, 25);                 // answered once the key was set
        h.Set(R, "a", 10, 20);
        h.Append(R, "b", 30, 40);
        h.Get(R, "ab", 50, 60);
        h.Delete(R, true, 70, 80);
        h.Check(R, false, 90, 100);
        h.Delete(R, false, 110, 120);
        h.Append(R, "c", 130, 140);
        h.Final(200, (R, "c"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_a_concurrent_queue_with_an_unknown_pop()
    {
        var h = new TestHistory();
        h.Push(Q, "a", 0, 10);
        h.Push(Q, "b", 5, 15);         // concurrent with a: either order
        h.Pop(Q, 0, null, 20, null);   // unknown: it popped one of them, or nothing
        h.Length(Q, 1, 30, 40);
        h.Pop(Q, 1, "b", 50, 60);
        h.Pop(Q, 0, null, 70, 80);
        AssertAcceptedIgnoringFinal(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_a_barrier_released_when_the_world_arrived()
    {
        var h = new TestHistory();
        h.Barrier("b/2", 3, 0, 50);
        h.Barrier("b/2", 3, 10, 50);
        h.Barrier("b/2", 3, 40, 45);                 // the releasing arrival
        h.Barrier("b/2", 3, 60, 70);                 // a late arrival returns at once
        h.Barrier("b/3", 3, 0, 30, released: false); // canceled, but counted
        h.Barrier("b/3", 3, 35, null);               // unknown
        h.Final(200, ("b/2", "4"), ("b/3", "1"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_a_prefix_and_an_atomic_multi_set_after_a_broken_connection()
    {
        var h = new TestHistory();
        h.Set("p/9/0", "a", 0, 10, connection: 9, sequence: 0);
        h.Set("p/9/1", "b", 20, null, connection: 9, sequence: 1);
        h.MultiSet(["m/1/0", "m/1/1"], ["x", "y"], 20, null, connection: 9, sequence: 2);
        h.Set("p/9/3", "d", 20, null, connection: 9, sequence: 3);
        h.Set("v/1/rank/0", "addr0", 30, null, connection: 10, sequence: 0);
        h.Add("v/1/arrived", 1, null, 30, null);
        h.Final(100, ("p/9/0", "a"), ("p/9/1", "b"), ("m/1/0", "x"), ("m/1/1", "y"), ("p/9/3", ""),
            ("v/1/arrived", ""), ("v/1/rank/0", "addr0"));
        AssertAccepted(h);
    }

    [Fact]
    public void Jepsen_checker_accepts_a_history_as_read_back_from_its_file()
    {
        var h = new TestHistory();
        h.Set(R, "a", 0, 10);
        h.CompareSet(R, "a", "b", null, 20, null);
        h.Get(R, "b", 30, 40);
        h.Final(100, (R, "b"));
        var file = Path.GetTempFileName();
        try
        {
            HistoryRecorder.Write(file, h.Operations);
            var read = HistoryRecorder.Read(file);
            Assert.Equal(h.Operations.Select(o => o.ToString()), read.Select(o => o.ToString()));
            Assert.True(HistoryChecker.Check(read).Valid);
        }
        finally
        {
            File.Delete(file);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Bounds
    // ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Jepsen_checker_reports_too_large_instead_of_searching_forever()
    {
        // Forty concurrent CAS attempts of unknown outcome and reads that no order explains: the search space is
        // astronomically large; the bound stops it.
        var h = new TestHistory();
        h.Set(R, "0", 0, 1);
        for (var i = 0; i < 40; i++) h.CompareSet(R, $"{i % 5}", $"{i + 100}", null, 2 + i, null);
        h.Get(R, "never-written", 100, 110);
        var clock = Stopwatch.StartNew();
        var report = Check(h, new CheckerOptions { MaxStepsPerKey = 20_000 });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Equal("UNKNOWN", report.Verdict);
        Assert.Contains(report.Undecided, u => u.Contains($"key {R}", StringComparison.Ordinal) && u.Contains("too large", StringComparison.Ordinal));
    }

    [Fact]
    public void Jepsen_checker_decides_a_long_history_with_some_unknown_writes_quickly()
    {
        // The shape the run produces for a register key: a few hundred operations, some concurrency, a handful of
        // unknown writes. It must be decided well within the default bound.
        var h = new TestHistory();
        var value = "";
        long t = 0;
        for (var i = 0; i < 300; i++, t += 10)
        {
            if (i % 50 == 25)
            {
                h.Set(R, $"u{i}", t, null); // unknown, never seen
                continue;
            }
            if (i % 3 == 0)
            {
                h.CompareSet(R, value, $"v{i}", $"v{i}", t, t + 15); // overlaps the next operation
                value = $"v{i}";
            }
            else h.Get(R, value, t + 1, t + 9);
        }
        h.Final(t + 100, (R, value));
        var clock = Stopwatch.StartNew();
        AssertAccepted(h);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    private void AssertAcceptedIgnoringFinal(TestHistory history)
    {
        var report = Check(history);
        Assert.Empty(report.Violations);
        Assert.Equal(["no final read of the state succeeded: the prefix, MULTI_SET and counter checks had nothing to compare with"], report.Undecided);
    }
}
