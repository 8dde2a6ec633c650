using Akka.Actor;
using Akka.TestKit.TestActors;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Store;

/// <summary>WAIT counting (docs/PROTOCOL.md §2.8), the wake matrix (docs/PROTOCOL.md §3 with §6.2–§6.4), CANCEL_WAIT and cleanup.</summary>
public sealed class WaitTests(ITestOutputHelper output) : StoreTestBase(output)
{
    public static TheoryData<string> Waking => ["set", "append", "add", "multi-set", "cas-create"];

    private static Query[] Wake(string op, string key) => op switch
    {
        "set" => [Set(key, "v")],
        "append" => [Append(key, "v")],
        "add" => [Add(key, 1)],
        "multi-set" => [MultiSet(("other", "o"), (key, "v"))],
        "cas-create" => [Cas(key, "", "v")],
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    [Theory]
    [MemberData(nameof(Waking))]
    public void Storing_operations_wake_every_waiter_of_the_key(string op)
    {
        var store = NewStore();
        var (c, w1, w2, bystander) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("k"), Pending);
        Run(store, w2, Wait("k"), Pending);
        Run(store, bystander, Wait("unrelated"), Pending);

        Send(store, c, Wake(op, "k"));
        ExpectWaitCompleted(w1);
        ExpectWaitCompleted(w2);
        AssertSilent(store, bystander);
        var stats = Stats(store);
        Assert.Equal((1, 1), (stats.WaitingConnections, stats.WaiterRegistrations));
    }

    public static TheoryData<string> NonWaking =>
        ["delete", "get", "check", "getnumkeys", "list-keys", "queue-pop", "queue-len", "multi-get", "cas-miss-with-expected"];

    [Theory]
    [MemberData(nameof(NonWaking))]
    public void Other_operations_wake_nobody(string op)
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("k"), Pending);
        Query q = op switch
        {
            "delete" => Delete("k"),
            "get" => Get("k"),
            "check" => Check("k"),
            "getnumkeys" => NumKeys,
            "list-keys" => ListKeys,
            "queue-pop" => Pop("k"),
            "queue-len" => QLen("k"),
            "multi-get" => MultiGet("k"),
            "cas-miss-with-expected" => Cas("k", "expected", "v"),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        Send(store, c, q);
        AssertSilent(store, w);
        Assert.Equal(1, Stats(store).WaiterRegistrations);
    }

    [Fact]
    public void Delete_of_a_present_key_does_not_wake_and_does_not_uncount_it()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("a", "b"), Pending);
        Run(store, c, [Set("a", "1"), Delete("a")], Int(1));
        AssertSilent(store, w);
        Run(store, c, [Set("b", "2")]);
        ExpectWaitCompleted(w);
    }

    [Fact]
    public void Wait_on_present_keys_or_an_empty_list_stops_at_once()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Wait(), Set("a", ""), Push("q", "i"), Wait("a"), Wait("a", "q", "a")], Stop, Stop, Stop);
        Assert.Equal(0, Stats(store).WaitingConnections);
    }

    [Fact]
    public void Multi_key_wait_counts_only_missing_keys()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("a", "1"), []);
        Run(store, w, Wait("a", "b", "c"), Pending);
        Assert.Equal(2, Stats(store).WaiterRegistrations);
        Run(store, c, [Set("b", "2")]);
        AssertSilent(store, w);
        Run(store, c, [Set("c", "3")]);
        ExpectWaitCompleted(w);
        Assert.Equal(new StoreProtocol.StoreStats(3, 0, 0, 6, 0, 0), Stats(store));
    }

    [Fact]
    public void A_key_that_exists_only_as_a_queue_is_registered_when_the_wait_blocks()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Push("q", "i"), []);
        Run(store, w, Wait("q", "k"), Pending);
        Assert.Equal(2, Stats(store).WaiterRegistrations);
        Run(store, c, [Set("k", "1")]);
        AssertSilent(store, w);
        Run(store, c, [Set("q", "now in the map")]);
        ExpectWaitCompleted(w);
    }

    [Fact]
    public void Duplicate_keys_count_twice_but_one_wake_satisfies_both()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("k", "k"), Pending);
        Assert.Equal(2, Stats(store).WaiterRegistrations);
        Run(store, c, [Set("k", "1")]);
        ExpectWaitCompleted(w);
        Assert.Equal(0, Stats(store).WaiterRegistrations);
    }

    [Fact]
    public void A_wake_in_the_same_batch_replaces_wait_pending_at_the_wait_position()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Wait("k"), new Query.Ping(1), Set("k", "v"), Get("k")], Stop, new Reply.Pong(1), Val("v"));
        c.ExpectNoMsg(Quiet); // no WaitCompleted in addition
        Assert.Equal(0, Stats(store).WaitingConnections);
    }

    [Fact]
    public void A_wake_in_a_later_batch_sends_wait_completed_before_that_batch_answer()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Wait("k"), new Query.Ping(1)], Pending, new Reply.Pong(1));
        store.Tell(new StoreProtocol.Execute(c.Ref, [Set("k", "v"), Get("k")]));
        c.ExpectMsg<StoreProtocol.WaitCompleted>();
        AssertReplies([Val("v")], c.ExpectMsg<StoreProtocol.Executed>().Replies);
    }

    [Fact]
    public void Wait_completed_is_sent_by_the_store()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("k"), Pending);
        Run(store, c, Set("k", "v"), []);
        w.ExpectMsg<StoreProtocol.WaitCompleted>();
        Assert.Equal(store, w.LastSender);
    }

    [Fact]
    public void Cancel_wait_is_answered_without_a_pending_wait()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Cancel, Cancel], Canceled, Canceled);
    }

    [Fact]
    public void Cancel_wait_drops_the_registrations_so_a_later_set_sends_nothing()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("a", "b"), Pending);
        Run(store, w, Cancel, Canceled);
        Assert.Equal(new StoreProtocol.StoreStats(0, 0, 0, 0, 0, 0), Stats(store));
        Run(store, c, [Set("a", "1"), Set("b", "2")]);
        AssertSilent(store, w);
        // The connection may WAIT again afterwards.
        Run(store, w, Wait("c"), Pending);
        Run(store, c, [Set("c", "3")]);
        ExpectWaitCompleted(w);
    }

    [Fact]
    public void Cancel_wait_in_the_same_batch_leaves_the_pending_marker_followed_by_wait_canceled()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        // The connection layer drops a WaitPending that a WaitCanceled follows (libuv sends only 01).
        Run(store, w, [Wait("k"), Cancel], Pending, Canceled);
        Run(store, c, [Set("k", "1")]);
        AssertSilent(store, w);
    }

    [Fact]
    public void A_second_wait_while_one_is_outstanding_is_rejected_and_forgets_the_connection()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("present", "1"), []);
        Run(store, w, Wait("a"), Pending);
        var executed = Send(store, w, new Query.Ping(1), Wait("present"), new Query.Ping(2));
        AssertReplies([new Reply.Pong(1)], executed.Replies);
        Assert.Equal(QueryType.Wait, executed.Rejection!.Query);
        Assert.Equal("wait-already-pending", executed.Rejection.Reason);
        Assert.Equal(0, Stats(store).WaiterRegistrations);
        Run(store, c, [Set("a", "1")]);
        AssertSilent(store, w);
    }

    [Fact]
    public void Connection_closed_drops_all_registrations_of_that_connection_only()
    {
        var store = NewStore();
        var (c, w1, w2) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("a", "b", "a"), Pending);
        Run(store, w2, Wait("a"), Pending);
        store.Tell(new StoreProtocol.ConnectionClosed(w1.Ref));
        store.Tell(new StoreProtocol.ConnectionClosed(c.Ref)); // nothing to drop: ignored
        var stats = Stats(store);
        Assert.Equal((1, 1), (stats.WaitingConnections, stats.WaiterRegistrations));
        Run(store, c, [Set("a", "1"), Set("b", "2")]);
        ExpectWaitCompleted(w2);
        AssertSilent(store, w1);
        c.ExpectNoMsg(TimeSpan.Zero); // the window above covered it too
    }

    [Fact]
    public void Ten_thousand_connections_that_wait_and_close_leave_no_registration()
    {
        const int n = 10_000;
        var store = NewStore();
        var connections = new IActorRef[n];
        for (var i = 0; i < n; i++)
        {
            connections[i] = Sys.ActorOf(BlackHoleActor.Props);
            // Every connection shares "shared", so removal from one long waiter list must stay cheap.
            store.Tell(new StoreProtocol.Execute(connections[i], [Wait("shared", $"own{i}")]));
        }
        Assert.Equal(new StoreProtocol.StoreStats(0, 0, 0, 0, n, 2 * n), Stats(store));

        // Close in an order unrelated to registration order.
        for (var i = 0; i < n; i += 2)
            store.Tell(new StoreProtocol.ConnectionClosed(connections[i]));
        for (var i = n - 1; i > 0; i -= 2)
            store.Tell(new StoreProtocol.ConnectionClosed(connections[i]));
        Assert.Equal(new StoreProtocol.StoreStats(0, 0, 0, 0, 0, 0), Stats(store));

        // The waiter lists are really gone: a fresh waiter on "shared" is woken alone, by one SET.
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("shared"), Pending);
        Assert.Equal(1, Stats(store).WaiterRegistrations);
        Run(store, c, [Set("shared", "1")]);
        ExpectWaitCompleted(w);
        Assert.Equal(0, Stats(store).WaiterRegistrations);
    }

    [Fact]
    public void Multi_set_wakes_the_waiters_of_every_pair_once_and_they_see_all_pairs()
    {
        // Per-pair versus after-all waking (docs/PROTOCOL.md §6.4) cannot be told apart from outside the actor: a batch
        // runs atomically. What is observable: each waiter is woken exactly once and sees every pair.
        var store = NewStore();
        var (c, w1, w2, w3) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("first"), Pending);
        Run(store, w2, Wait("second", "third", "second"), Pending);
        Run(store, w3, Wait("first", "elsewhere"), Pending);
        Run(store, c, [MultiSet(("first", "1"), ("second", "2"), ("third", "3"))]);
        ExpectWaitCompleted(w1);
        ExpectWaitCompleted(w2);
        Run(store, w1, MultiGet("first", "second", "third"), Values("1", "2", "3"));
        AssertSilent(store, w2);
        AssertSilent(store, w3);
        var stats = Stats(store);
        Assert.Equal((1, 1), (stats.WaitingConnections, stats.WaiterRegistrations));
    }

    [Fact]
    public void Multi_set_in_the_waiters_own_batch_replaces_wait_pending_after_all_pairs()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Wait("a", "b"), MultiSet(("a", "1"), ("b", "2")), MultiGet("a", "b")], Stop, Values("1", "2"));
    }
}
