using Akka.Actor;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Store;

/// <summary>A bad request costs only its own connection and changes nothing stored (docs/PROTOCOL.md §6.5).</summary>
public sealed class RejectionTests(ITestOutputHelper output) : StoreTestBase(output)
{
    private static readonly byte[] Boom = B("boom");

    private IActorRef NewFaultyStore() =>
        Sys.ActorOf(StoreActor.Props(StoreLimits.Default, q =>
        {
            if (q is Query.Get g && g.Key.AsSpan().SequenceEqual(Boom))
                throw new InvalidOperationException("injected fault");
        }));

    [Fact]
    public void A_rejected_query_stops_the_batch_and_keeps_earlier_effects_and_replies()
    {
        var store = NewStore();
        var (c, other) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("bad", "abc"), []);
        var executed = Send(store, c, Set("before", "1"), Get("before"), Add("bad", 1), Set("after", "2"), Get("after"), new Query.Ping(9));
        AssertReplies([Val("1")], executed.Replies);
        Assert.Equal(new Rejection(QueryType.Add, "add-not-a-number", executed.Rejection!.Detail), executed.Rejection);
        Assert.False(string.IsNullOrWhiteSpace(executed.Rejection.Detail));
        Run(store, other, [Get("before"), Get("after"), Get("bad"), NumKeys], Val("1"), Val(""), Val("abc"), Int(2));
        c.ExpectNoMsg(Quiet); // the rejected connection is forgotten: nothing more for it
    }

    [Fact]
    public void A_rejection_forgets_the_connections_wait_including_one_from_the_same_batch()
    {
        var store = NewStore();
        var (c, other) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("bad", "x"), []);
        var executed = Send(store, c, Wait("k"), Add("bad", 1));
        AssertReplies([Pending], executed.Replies);
        Assert.NotNull(executed.Rejection);
        Assert.Equal(new StoreProtocol.StoreStats(1, 0, 0, 4, 0, 0), Stats(store));
        Run(store, other, [Set("k", "1")]);
        AssertSilent(store, c);
    }

    [Fact]
    public void An_internal_fault_rejects_only_that_connection_and_keeps_the_state()
    {
        var store = NewFaultyStore();
        var (faulty, waiter, other) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, other, [Set("kept", "1"), Push("q", "item")]);
        Run(store, waiter, Wait("later"), Pending);
        Run(store, faulty, Wait("k"), Pending);

        StoreProtocol.Executed executed = null!;
        EventFilter.Exception<InvalidOperationException>(contains: "injected fault").ExpectOne(() =>
            executed = Send(store, faulty, Set("before", "b"), Get("boom"), Set("after", "a")));
        AssertReplies([], executed.Replies);
        Assert.Equal(QueryType.Get, executed.Rejection!.Query);
        Assert.Equal("internal-error", executed.Rejection.Reason);

        // Not restarted (a restart would have lost the map), the faulty connection forgotten, others served.
        Run(store, other, [Get("kept"), Get("before"), Get("after"), QLen("q")], Val("1"), Val("b"), Val(""), Int(1));
        Assert.Equal(1, Stats(store).WaitingConnections);
        Run(store, other, [Set("k", "x"), Set("later", "y")]);
        ExpectWaitCompleted(waiter);
        AssertSilent(store, faulty);
    }

    [Fact]
    public void The_fault_hook_is_consulted_per_query_in_order()
    {
        var seen = new List<QueryType>();
        var store = Sys.ActorOf(StoreActor.Props(StoreLimits.Default, q => seen.Add(q.Type)));
        var c = CreateTestProbe();
        Run(store, c, [Set("a", "1"), Get("a"), new Query.Ping(1)], Val("1"), new Reply.Pong(1));
        Assert.Equal([QueryType.Set, QueryType.Get, QueryType.Ping], seen);
    }

    [Fact]
    public void Invalid_limits_are_refused_when_building_props()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StoreActor.Props(new StoreLimits(-1)));
        Assert.Throws<ArgumentNullException>(() => StoreActor.Props(null!));
    }
}
