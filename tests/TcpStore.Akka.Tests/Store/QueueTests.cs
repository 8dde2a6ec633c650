using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Store;

/// <summary>QUEUE_PUSH/POP/LEN (docs/PROTOCOL.md §2.16–§2.18) and QUEUE_PUSH's single wake without stale registrations (docs/PROTOCOL.md §6.3).</summary>
public sealed class QueueTests(ITestOutputHelper output) : StoreTestBase(output)
{
    [Fact]
    public void Queues_are_fifo_and_pop_answers_the_length_before_popping()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Push("q", "a"), Push("q", "b"), Push("q", ""), QLen("q"), Pop("q"), Pop("q"), QLen("q"), Pop("q"), Pop("q"), QLen("q")],
            Int(3), Item(3, "a"), Item(2, "b"), Int(1), Item(1, ""), Item(0, null), Int(0));
        Assert.Equal(0, Stats(store).Queues);
    }

    [Fact]
    public void Unknown_queues_pop_empty_and_have_length_zero_and_leave_nothing_behind()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Pop("nope"), QLen("nope"), Check("nope")], Item(0, null), Int(0), NotReady);
        Assert.Equal(new StoreProtocol.StoreStats(0, 0, 0, 0, 0, 0), Stats(store));
    }

    [Fact]
    public void Queues_and_the_map_are_separate_namespaces()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("x", "map"), Push("x", "queue"), Get("x"), NumKeys, ListKeys, Delete("x"), QLen("x"), Pop("x"), Get("x")],
            Val("map"), Int(1), KeyList("x"), Int(1), Int(1), Item(1, "queue"), Val(""));
    }

    [Fact]
    public void Queue_push_wakes_exactly_one_waiter_and_the_next_push_wakes_the_next()
    {
        var store = NewStore();
        var (c, w1, w2) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("q"), Pending);
        Run(store, w2, Wait("q"), Pending);
        Run(store, c, [Push("q", "1")]);
        ExpectWaitCompleted(w1);
        AssertSilent(store, w2);
        Assert.Equal(1, Stats(store).WaiterRegistrations);
        Run(store, c, [Push("q", "2")]);
        ExpectWaitCompleted(w2);
        Assert.Equal(new StoreProtocol.StoreStats(0, 1, 2, 2, 0, 0), Stats(store));
    }

    [Fact]
    public void After_one_push_a_set_of_the_same_name_wakes_the_remaining_waiter()
    {
        var store = NewStore();
        var (c, w1, w2) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("q"), Pending);
        Run(store, w2, Wait("q"), Pending);
        Run(store, c, [Push("q", "1")]);
        ExpectWaitCompleted(w1);
        Run(store, c, [Set("q", "v")]);
        ExpectWaitCompleted(w2);
        AssertSilent(store, w1);
    }

    [Fact]
    public void Queue_push_consumes_registrations_until_one_wait_completes()
    {
        var store = NewStore();
        var (c, a, b, d) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, a, Wait("q", "other"), Pending); // needs two wakes
        Run(store, b, Wait("q"), Pending);
        Run(store, d, Wait("q"), Pending);
        Run(store, c, [Push("q", "1")]);
        // a's registration is consumed (count 2 -> 1) and b completes; d is not reached.
        ExpectWaitCompleted(b);
        AssertSilent(store, a);
        AssertSilent(store, d);
        var stats = Stats(store);
        Assert.Equal((2, 2), (stats.WaitingConnections, stats.WaiterRegistrations));
        Run(store, c, [Set("other", "x")]);
        ExpectWaitCompleted(a);
        Run(store, c, [Push("q", "2")]);
        ExpectWaitCompleted(d);
    }

    [Fact]
    public void Wait_on_the_same_name_twice_is_completed_by_one_push()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("q", "q"), Pending);
        Run(store, c, [Push("q", "1")]);
        ExpectWaitCompleted(w);
        Assert.Equal(0, Stats(store).WaiterRegistrations);
    }

    [Fact]
    public void A_push_leaves_no_stale_registration_to_satisfy_a_later_wait_of_the_same_connection()
    {
        var store = NewStore();
        var (c, a, b) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, a, Wait("q", "x"), Pending);
        Run(store, b, Wait("q"), Pending);
        Run(store, c, [Push("q", "1")]); // consumes a's "q" registration, wakes b
        ExpectWaitCompleted(b);
        Run(store, c, [Set("x", "1")]);
        ExpectWaitCompleted(a);

        // libuv would keep a stale "q" entry for a: its next push would count down a's new WAIT on "y", "q".
        Run(store, a, Wait("y", "z"), Pending);
        Run(store, c, [Pop("q"), Push("q", "2"), Set("y", "1")], Item(1, "1"));
        AssertSilent(store, a);
        Run(store, c, [Set("z", "1")]);
        ExpectWaitCompleted(a);
    }

    [Fact]
    public void Check_and_wait_see_a_non_empty_queue_as_present()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("q"), Pending);
        Run(store, c, [Push("q", "1")]);
        ExpectWaitCompleted(w);
        Run(store, w, [Check("q"), Wait("q"), Pop("q"), Check("q")], Ready, Stop, Item(1, "1"), NotReady);
    }

    [Fact]
    public void A_push_beyond_the_queue_limit_is_rejected_and_stores_nothing()
    {
        var store = NewStore(new StoreLimits(MaxQueueLength: 2));
        var (c, other) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, [Push("q", "1"), Push("q", "2")]);
        var executed = Send(store, c, QLen("q"), Push("q", "3"), Set("after", "x"));
        AssertReplies([Int(2)], executed.Replies);
        Assert.Equal(QueryType.QueuePush, executed.Rejection!.Query);
        Assert.Equal("queue-full", executed.Rejection.Reason);
        Run(store, other, [QLen("q"), Pop("q"), Pop("q"), Pop("q"), Get("after")], Int(2), Item(2, "1"), Item(1, "2"), Item(0, null), Val(""));
        // Room again after popping.
        Run(store, other, [Push("q", "3"), QLen("q")], Int(1));
    }

    [Fact]
    public void A_zero_queue_limit_refuses_every_push()
    {
        var store = NewStore(new StoreLimits(MaxQueueLength: 0));
        var c = CreateTestProbe();
        Assert.Equal("queue-full", Send(store, c, Push("q", "1")).Rejection?.Reason);
        Assert.Equal(0, Stats(store).Queues);
    }
}
