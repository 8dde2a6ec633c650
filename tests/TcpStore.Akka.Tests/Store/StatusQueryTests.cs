using System.Text;
using TcpStore.Akka.Store;
using Xunit.Abstractions;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Tests.Store;

/// <summary>The store's status queries: who waits for what, and pages of what it holds.</summary>
public sealed class StatusQueryTests(ITestOutputHelper output) : StoreTestBase(output)
{
    private static string S(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private Waiters Waiters(global::Akka.Actor.IActorRef store, int maxKeys = 1000, int maxConnections = 1000)
    {
        store.Tell(new GetWaiters(maxKeys, maxConnections), TestActor);
        return ExpectMsg<Waiters>();
    }

    [Fact]
    public void Awaited_keys_list_their_waiting_connections_most_awaited_first()
    {
        var store = NewStore();
        var (w1, w2, w3, c) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("present", "1"));
        Run(store, w1, Wait("b", "a"), Pending);
        Run(store, w2, Wait("a", "present"), Pending);
        Run(store, w3, Wait("a"), Pending);

        var waiters = Waiters(store);
        Assert.Equal(2, waiters.TotalKeys);
        Assert.Equal(["a", "b"], waiters.Keys.Select(k => S(k.Key)));
        Assert.Equal(3, waiters.Keys[0].Registrations);
        Assert.Equal([w1.Ref, w2.Ref, w3.Ref], waiters.Keys[0].Connections);
        Assert.Equal([w1.Ref], waiters.Keys[1].Connections);

        // Setting a key drops its list; a closed connection drops its registrations.
        Run(store, c, Set("a", "x"));
        ExpectWaitCompleted(w2);
        ExpectWaitCompleted(w3);
        waiters = Waiters(store);
        Assert.Equal(["b"], waiters.Keys.Select(k => S(k.Key)));
        store.Tell(new ConnectionClosed(w1.Ref), TestActor);
        Assert.Empty(Waiters(store).Keys);
    }

    [Fact]
    public void The_lists_are_cut_at_the_asked_maximum_but_the_counts_stay_exact()
    {
        var store = NewStore();
        var probes = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToList();
        foreach (var p in probes) Run(store, p, Wait("k1", "k2", "k3"), Pending);
        Run(store, CreateTestProbe(), Wait("k1"), Pending);

        var waiters = Waiters(store, maxKeys: 2, maxConnections: 2);
        Assert.Equal(3, waiters.TotalKeys);
        Assert.Equal(2, waiters.Keys.Count);
        Assert.Equal("k1", S(waiters.Keys[0].Key));
        Assert.Equal(4, waiters.Keys[0].Registrations);
        Assert.Equal(2, waiters.Keys[0].Connections.Count);
        Assert.Equal(3, waiters.Keys[1].Registrations);
    }

    [Fact]
    public void Entries_are_paged_in_key_order_with_sizes_and_short_values()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("c", "333"), Set("a", "1"), Set("b", new string('x', 100)), Set("d", "")]);

        store.Tell(new ListEntries(0, 2, PreviewBytes: 10), TestActor);
        var page = ExpectMsg<Entries>();
        Assert.Equal(4, page.Total);
        Assert.Equal(0, page.Offset);
        Assert.Equal(["a", "b"], page.Items.Select(e => S(e.Key)));
        Assert.Equal([1, 100], page.Items.Select(e => e.ValueBytes));
        Assert.Equal("1", S(page.Items[0].Value!));
        Assert.Null(page.Items[1].Value); // longer than the preview

        store.Tell(new ListEntries(2, 10, PreviewBytes: 0), TestActor);
        page = ExpectMsg<Entries>();
        Assert.Equal(["c", "d"], page.Items.Select(e => S(e.Key)));
        Assert.All(page.Items, e => Assert.Null(e.Value)); // a preview of 0 bytes shows no value, not even ""

        store.Tell(new ListEntries(99, 10), TestActor);
        page = ExpectMsg<Entries>();
        Assert.Equal((4, 4), (page.Total, page.Offset));
        Assert.Empty(page.Items);
    }

    [Fact]
    public void Queues_are_listed_with_their_lengths()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Push("q2", "a"), Push("q1", "a"), Push("q1", "b"), Push("gone", "x"), Pop("gone")], Item(1, "x"));

        store.Tell(new ListQueues(), TestActor);
        var queues = ExpectMsg<QueueList>();
        Assert.Equal(2, queues.Total);
        Assert.Equal([("q1", 2), ("q2", 1)], queues.Queues.Select(q => (S(q.Name), q.Items)));

        store.Tell(new ListQueues(1), TestActor);
        queues = ExpectMsg<QueueList>();
        Assert.Equal(2, queues.Total);
        Assert.Single(queues.Queues);
    }
}
