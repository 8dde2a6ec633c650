using TcpStore.Akka.Store;
using TcpStore.Protocol;
using Xunit.Abstractions;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Tests.Store;

/// <summary>
/// BARRIER (query 18, PyTorch 2.12; docs/PROTOCOL.md §2.20), with the cases read in PyTorch's two servers: the count
/// in the key itself, counting that wakes nobody, the releasing arrival that wakes every waiter of the key, reuse,
/// strtoll parsing, early release by writes, DELETE, CANCEL_WAIT and closing connections.
/// </summary>
public sealed class BarrierTests(ITestOutputHelper output) : StoreTestBase(output)
{
    private static Query Barrier(string key, long worldSize) => new Query.Barrier(B(key), worldSize);

    [Fact]
    public void A_barrier_of_one_releases_its_only_arrival_at_once_and_leaves_the_count_in_the_key()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Barrier("/bar", 1), Get("/bar"), NumKeys, ListKeys], Stop, Val("1"), Int(1), KeyList("/bar"));
    }

    [Fact]
    public void Arrivals_wait_until_the_count_reaches_the_world_size_then_all_are_released_at_once()
    {
        var store = NewStore();
        var (a, b, c, observer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b3", 3), Pending);
        Run(store, b, Barrier("/b3", 3), Pending);
        // Counting wakes nobody, but the count is an ordinary key.
        Run(store, observer, [Get("/b3"), Check("/b3")], Val("2"), Ready);
        AssertSilent(store, a);
        AssertSilent(store, b);
        Assert.Equal((2, 2), (Stats(store).WaitingConnections, Stats(store).WaiterRegistrations));

        Run(store, c, Barrier("/b3", 3), Stop);
        ExpectWaitCompleted(a);
        ExpectWaitCompleted(b);
        Run(store, observer, Get("/b3"), Val("3"));
        Assert.Equal((0, 0), (Stats(store).WaitingConnections, Stats(store).WaiterRegistrations));
    }

    [Fact]
    public void A_released_key_releases_every_later_arrival_at_once_and_keeps_counting()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Barrier("/b", 1), Barrier("/b", 1), Barrier("/b", 2)], Stop, Stop, Stop);
        Run(store, c, Get("/b"), Val("3"));
        // Each arrival compares the count with its own world size: 4 < 10 waits.
        Run(store, c, Barrier("/b", 10), Pending);
    }

    [Fact]
    public void The_count_is_parsed_like_add_and_rewritten_as_a_plain_decimal()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("/b", " 5x"), Barrier("/b", 6), Get("/b")], Stop, Val("6"));
        Run(store, c, [Set("/n", "-3"), Barrier("/n", 1), Get("/n")], Pending, Val("-2"));
    }

    [Theory]
    [InlineData("x", RejectionReasons.BarrierNotANumber)]
    [InlineData("", RejectionReasons.BarrierNotANumber)]
    [InlineData("99999999999999999999", RejectionReasons.BarrierOutOfRange)]
    public void A_count_that_does_not_parse_refuses_the_arrival_and_changes_nothing(string value, string reason)
    {
        var store = NewStore();
        var (writer, arrival) = (CreateTestProbe(), CreateTestProbe());
        Run(store, writer, Set("/b", value));
        var executed = Send(store, arrival, Barrier("/b", 2));
        Assert.Empty(executed.Replies);
        Assert.Equal((QueryType.Barrier, reason), (executed.Rejection!.Query, executed.Rejection.Reason));
        Run(store, writer, Get("/b"), Val(value));
        Assert.Equal(0, Stats(store).WaitingConnections);
    }

    public static TheoryData<string> EarlyReleasing => ["set", "add", "append", "multi-set", "cas-store"];

    [Theory]
    [MemberData(nameof(EarlyReleasing))]
    public void A_write_that_wakes_the_key_releases_the_waiting_arrivals_early(string op)
    {
        var store = NewStore();
        var (a, writer) = (CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b", 3), Pending);
        Query write = op switch
        {
            "set" => Set("/b", "x"),
            "add" => Add("/b", 10),
            "append" => Append("/b", "0"),
            "multi-set" => MultiSet(("/other", "o"), ("/b", "7")),
            "cas-store" => Cas("/b", "1", "5"),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        Send(store, writer, write);
        ExpectWaitCompleted(a);
    }

    [Fact]
    public void A_compare_set_that_stores_nothing_releases_nobody()
    {
        var store = NewStore();
        var (a, writer) = (CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b", 2), Pending);
        Run(store, writer, Cas("/b", "not the count", "x"), Val("1"));
        AssertSilent(store, a);
    }

    [Fact]
    public void The_releasing_arrival_also_wakes_waits_registered_before_the_key_existed_but_counting_does_not()
    {
        var store = NewStore();
        var (waiter, a, b) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, waiter, Wait("/b7"), Pending);
        Run(store, a, Barrier("/b7", 2), Pending);
        AssertSilent(store, waiter); // the key exists now, yet the count wakes nobody
        Run(store, b, Barrier("/b7", 2), Stop);
        ExpectWaitCompleted(waiter);
        ExpectWaitCompleted(a);
    }

    [Fact]
    public void Delete_resets_the_count_without_waking_and_the_next_release_frees_everyone()
    {
        var store = NewStore();
        var (a, b, c, admin) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b8", 2), Pending);
        Run(store, admin, Delete("/b8"), Int(1));
        AssertSilent(store, a);
        Run(store, b, Barrier("/b8", 2), Pending); // the count starts again at 1
        Run(store, c, Barrier("/b8", 2), Stop);
        ExpectWaitCompleted(a);
        ExpectWaitCompleted(b);
    }

    [Fact]
    public void Cancel_wait_drops_the_arrival_but_keeps_it_counted()
    {
        var store = NewStore();
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b4", 2), Pending);
        Run(store, a, Cancel, Canceled);
        Assert.Equal(0, Stats(store).WaitingConnections);
        Run(store, b, [Barrier("/b4", 2), Get("/b4")], Stop, Val("2"));
        AssertSilent(store, a);
    }

    [Fact]
    public void A_closed_connection_drops_its_arrival_but_keeps_it_counted()
    {
        var store = NewStore();
        var (a, b) = (CreateTestProbe(), CreateTestProbe());
        Run(store, a, Barrier("/b", 2), Pending);
        store.Tell(new ConnectionClosed(a.Ref), a.Ref);
        Assert.Equal((0, 0), (Stats(store).WaitingConnections, Stats(store).WaiterRegistrations));
        Run(store, b, Barrier("/b", 2), Stop);
        AssertSilent(store, a);
    }

    [Fact]
    public void A_barrier_while_a_wait_or_barrier_is_outstanding_is_refused_and_changes_nothing()
    {
        var store = NewStore();
        var (a, b, observer) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, a, Wait("/k"), Pending);
        var refused = Send(store, a, Barrier("/b", 5));
        Assert.Equal(RejectionReasons.WaitAlreadyPending, refused.Rejection!.Reason);
        Run(store, b, Barrier("/c", 5), Pending);
        Assert.Equal(RejectionReasons.WaitAlreadyPending, Send(store, b, Barrier("/c", 5)).Rejection!.Reason);
        Run(store, observer, [Check("/b"), Get("/c")], NotReady, Val("1"));
    }

    [Fact]
    public void Many_barriers_at_once_release_independently()
    {
        var store = NewStore();
        var arrivals = Enumerable.Range(0, 10).Select(_ => CreateTestProbe()).ToList();
        for (var i = 0; i < arrivals.Count; i++)
            Run(store, arrivals[i], Barrier($"/g{i % 2}", 5), i < 8 ? Pending : Stop); // /g0 and /g1 reach 5 last
        foreach (var arrival in arrivals.Take(8)) ExpectWaitCompleted(arrival);
    }

    [Fact]
    public void The_status_view_lists_each_barrier_with_its_count_world_size_and_waiting_connections()
    {
        var store = NewStore();
        var (a, b, w) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("/plain"), Pending);
        Run(store, a, Barrier("/epoch", 4), Pending);
        Run(store, b, Barrier("/epoch", 3), Pending);

        store.Tell(new GetBarriers(), TestActor);
        var barriers = ExpectMsg<Barriers>();
        var barrier = Assert.Single(barriers.Items);
        Assert.Equal(("/epoch", (long?)2, 4L, 2), (System.Text.Encoding.UTF8.GetString(barrier.Key), barrier.Arrived, barrier.Expected, barrier.Waiting));
        Assert.Equal([a.Ref, b.Ref], barrier.Connections);

        // Plain WAITs are the awaited keys' view, not the barriers'.
        store.Tell(new GetWaiters(), TestActor);
        var awaited = Assert.Single(ExpectMsg<Waiters>().Keys);
        Assert.Equal("/plain", System.Text.Encoding.UTF8.GetString(awaited.Key));
    }
}
