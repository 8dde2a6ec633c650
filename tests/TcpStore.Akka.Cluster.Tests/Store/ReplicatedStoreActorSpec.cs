using Akka.Actor;
using Akka.DistributedData;
using Akka.TestKit;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// The singleton's protocol with the replicator, message by message, with a <see cref="TestProbe"/> standing in for
/// the DistributedData replicator (two buckets, a store of three nodes: every read and write is of two replicas).
/// </summary>
public sealed class ReplicatedStoreActorSpec : StoreSpec
{
    private const int Buckets = 2;
    private readonly TestProbe _replicator;
    private readonly ReplicaLayout _layout = new(Buckets);

    public ReplicatedStoreActorSpec()
    {
        _replicator = CreateTestProbe("replicator");
    }

    private IActorRef Start(TimeSpan? lease = null) =>
        Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), Settings(storeSize: 3, buckets: Buckets, lease: lease), _replicator.Ref));

    private Get ExpectGet(IKey key)
    {
        var get = _replicator.ExpectMsg<Get>();
        Assert.Equal(key, get.Key);
        Assert.Equal(new ReadFrom(2, TimeSpan.FromSeconds(3)), get.Consistency);
        return get;
    }

    private Update ExpectUpdate(IKey key)
    {
        var update = _replicator.ExpectMsg<Update>();
        Assert.Equal(key, update.Key);
        Assert.Equal(new WriteTo(2, TimeSpan.FromSeconds(3)), update.Consistency);
        return update;
    }

    private void Answer(IActorRef store, Get get, IReplicatedData? data) =>
        store.Tell(data is null ? new NotFound(get.Key, get.Request) : new GetSuccess(get.Key, get.Request, data), _replicator.Ref);

    private void Acknowledge(IActorRef store, Update update) => store.Tell(new UpdateSuccess(update.Key, update.Request), _replicator.Ref);

    /// <summary>What an update writes into a replica that held <paramref name="before"/> (its modify function, as the replicator runs it).</summary>
    private static T Applied<T>(Update update, T before) where T : IReplicatedData => (T)update.Modify(before);

    /// <summary>
    /// Plays a whole takeover: the epoch, the journal, the buckets, the write-backs, and the first (idle) truncation of
    /// the journal. Returns the epoch the store claimed.
    /// </summary>
    private StoreEpoch TakeOver(IActorRef store, StoreEpoch? previous = null, JournalContent? journal = null, BucketContent? bucket0 = null)
    {
        Answer(store, ExpectGet(StoreEpochKey.Instance), previous);
        var claim = ExpectUpdate(StoreEpochKey.Instance);
        var epoch = Applied(claim, previous ?? StoreEpoch.None);
        Assert.Equal((previous?.Number ?? 0) + 1, epoch.Number);
        Acknowledge(store, claim);

        Answer(store, ExpectGet(StoreJournalKey.Instance), journal is null ? null : StoreJournal.From(journal));
        for (var b = 0; b < Buckets; b++)
        {
            var get = ExpectGet(_layout.BucketKey(b));
            Answer(store, get, b == 0 && bucket0 is not null ? StoreBucket.From(bucket0) : null);
        }

        var journalBack = ExpectUpdate(StoreJournalKey.Instance);
        Assert.Equal(epoch, Applied(journalBack, StoreJournal.Empty).Generation);
        Acknowledge(store, journalBack);
        for (var b = 0; b < Buckets; b++)
        {
            var bucketBack = ExpectUpdate(_layout.BucketKey(b));
            Assert.Equal(epoch, Applied(bucketBack, StoreBucket.Empty).Generation);
            Acknowledge(store, bucketBack);
        }

        // Serving, idle: the journal is told that the buckets now hold everything.
        var truncation = ExpectUpdate(StoreJournalKey.Instance);
        Assert.Equal(new Stamp(epoch.Number, 0), Applied(truncation, StoreJournal.Empty).TruncatedThrough);
        Acknowledge(store, truncation);
        return epoch;
    }

    private void Confirm(IActorRef store, StoreEpoch epoch) => Answer(store, ExpectGet(StoreEpochKey.Instance), epoch);

    [Fact]
    public void Takes_over_in_order_and_serves_nothing_before_its_state_is_back_on_a_quorum()
    {
        var store = Start();
        var client = CreateTestProbe();
        Answer(store, ExpectGet(StoreEpochKey.Instance), new StoreEpoch(4, "previous"));
        Send(store, client, new Query.Ping(1)); // held throughout

        var claim = ExpectUpdate(StoreEpochKey.Instance);
        var epoch = Applied(claim, new StoreEpoch(4, "previous"));
        Assert.Equal(5, epoch.Number);
        _replicator.ExpectNoMsg(Quiet); // nothing is read before the epoch is on a quorum
        Acknowledge(store, claim);

        // The journal first, and only then the buckets.
        var journal = ExpectGet(StoreJournalKey.Instance);
        _replicator.ExpectNoMsg(Quiet);
        Answer(store, journal, null);
        for (var b = 0; b < Buckets; b++) Answer(store, ExpectGet(_layout.BucketKey(b)), null);

        var journalBack = ExpectUpdate(StoreJournalKey.Instance);
        _replicator.ExpectNoMsg(Quiet); // the buckets are rewritten only once the journal is
        Acknowledge(store, journalBack);
        var bucketBacks = Enumerable.Range(0, Buckets).Select(b => ExpectUpdate(_layout.BucketKey(b))).ToList();
        Acknowledge(store, bucketBacks[0]);
        client.ExpectNoMsg(Quiet); // one bucket is not back on a quorum yet
        Acknowledge(store, bucketBacks[1]);

        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance));
        Confirm(store, epoch);
        Assert.Equal(1u, Assert.IsType<Reply.Pong>(client.ExpectMsg<Executed>().Replies.Single()).Nonce);
    }

    [Fact]
    public void Rebuilds_the_buckets_with_the_journals_groups_over_them_in_stamp_order_and_writes_that_back()
    {
        var previous = new StoreEpoch(1, "previous");
        KeyValuePair<string, Stamped>[] stored =
        [
            new(ReplicaLayout.EntryId(B("/k")), new Stamped(new Stamp(1, 3), B("old"))),
            new(ReplicaLayout.EntryId(B("/newer-in-bucket")), new Stamped(new Stamp(1, 9), B("bucket"))),
        ];
        BucketContent Bucket(int b) => BucketContent.Of(previous, stored.Where(i => _layout.BucketOfId(i.Key) == b));
        var journal = new JournalContent(previous, new Stamp(1, 3), JournalContent.Empty.Entries
            .Add(new Stamp(1, 5), [new Change(ReplicaLayout.EntryId(B("/k")), B("new")), new Change(ReplicaLayout.EntryId(B("/gone")), null)])
            .Add(new Stamp(1, 4), [new Change(ReplicaLayout.EntryId(B("/k")), B("mid")), new Change(ReplicaLayout.EntryId(B("/gone")), B("x"))])
            .Add(new Stamp(1, 6), [new Change(ReplicaLayout.EntryId(B("/newer-in-bucket")), B("journal"))]));
        var store = Start();

        Answer(store, ExpectGet(StoreEpochKey.Instance), previous);
        var claim = ExpectUpdate(StoreEpochKey.Instance);
        var epoch = Applied(claim, previous);
        Acknowledge(store, claim);
        Answer(store, ExpectGet(StoreJournalKey.Instance), StoreJournal.From(journal));
        for (var b = 0; b < Buckets; b++) Answer(store, ExpectGet(_layout.BucketKey(b)), StoreBucket.From(Bucket(b)));

        // The journal is carried into the new generation as it was; every bucket is rewritten in it, with the rebuilt
        // items stamped (epoch, 0) and no tombstones.
        var journalWrite = ExpectUpdate(StoreJournalKey.Instance);
        var journalBack = Applied(journalWrite, StoreJournal.Empty);
        Assert.Equal(epoch, journalBack.Generation);
        Assert.Equal(journal.Entries.Keys, journalBack.Entries.Keys);
        Acknowledge(store, journalWrite);
        var rewritten = Enumerable.Range(0, Buckets)
            .SelectMany(b =>
            {
                var update = ExpectUpdate(_layout.BucketKey(b));
                Acknowledge(store, update);
                var items = Applied(update, StoreBucket.From(Bucket(b))).Items; // the old generation is replaced whole
                Assert.All(items, i => Assert.Equal(b, _layout.BucketOfId(i.Key)));
                return items;
            })
            .ToDictionary(i => i.Key, i => i.Value);
        Assert.Equal("new", S(rewritten[ReplicaLayout.EntryId(B("/k"))].Value!));
        Assert.Equal("bucket", S(rewritten[ReplicaLayout.EntryId(B("/newer-in-bucket"))].Value!));
        Assert.False(rewritten.ContainsKey(ReplicaLayout.EntryId(B("/gone"))));
        Assert.All(rewritten.Values, item => Assert.Equal(new Stamp(epoch.Number, 0), item.Stamp));
        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance));

        var client = CreateTestProbe();
        Send(store, client, new Query.Get(B("/k")), new Query.Check([B("/gone")]), new Query.Get(B("/newer-in-bucket")));
        Confirm(store, epoch);
        var replies = client.ExpectMsg<Executed>().Replies;
        Assert.Equal("new", S(Value(replies[0])));
        Assert.Equal(Reply.CheckResult.NotReadyReply, replies[1]);
        Assert.Equal("bucket", S(Value(replies[2])));
    }

    [Fact]
    public void A_reply_leaves_only_after_its_group_is_on_a_quorum_and_a_later_epoch_read_still_shows_ours()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var writer = CreateTestProbe();
        var reader = CreateTestProbe();

        Send(store, writer, new Query.Set(B("/x"), B("v")), new Query.Ping(7));
        var commit = ExpectUpdate(StoreJournalKey.Instance);
        var group = Assert.Single(Applied(commit, StoreJournal.Empty).Entries);
        Assert.Equal(new Stamp(epoch.Number, 1), group.Key);
        var change = Assert.Single(group.Value);
        Assert.Equal((ReplicaLayout.EntryId(B("/x")), "v"), (change.Id, S(change.Value!)));
        Send(store, reader, new Query.Get(B("/x")));
        _replicator.ExpectNoMsg(Quiet); // no epoch read before the group is on a quorum: it could not vouch for it
        writer.ExpectNoMsg(TimeSpan.Zero);
        reader.ExpectNoMsg(TimeSpan.Zero);

        Acknowledge(store, commit);
        var confirmation = ExpectGet(StoreEpochKey.Instance);
        writer.ExpectNoMsg(Quiet);
        Answer(store, confirmation, epoch);
        Assert.Equal(7u, Assert.IsType<Reply.Pong>(writer.ExpectMsg<Executed>().Replies.Single()).Nonce);
        Assert.Equal("v", S(Value(reader.ExpectMsg<Executed>().Replies.Single())));
    }

    [Fact]
    public void A_read_waits_for_an_epoch_read_that_started_after_it_and_one_such_read_serves_all_held_meanwhile()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var first = CreateTestProbe();
        Send(store, first, new Query.Get(B("/missing")));
        var round = ExpectGet(StoreEpochKey.Instance);

        // These arrive while that read is out: it cannot vouch for them.
        var later = Enumerable.Range(0, 5).Select(_ => CreateTestProbe()).ToList();
        foreach (var client in later) Send(store, client, new Query.Ping(2));
        Answer(store, round, epoch);
        first.ExpectMsg<Executed>();
        later[0].ExpectNoMsg(Quiet);

        Answer(store, ExpectGet(StoreEpochKey.Instance), epoch); // one read for all five
        foreach (var client in later) client.ExpectMsg<Executed>();
        _replicator.ExpectNoMsg(Quiet);
    }

    [Fact]
    public void An_epoch_read_that_shows_another_epoch_stops_the_store_without_a_reply()
    {
        var store = Start();
        TakeOver(store);
        Watch(store);
        var client = CreateTestProbe();
        Send(store, client, new Query.Get(B("/x")));
        Answer(store, ExpectGet(StoreEpochKey.Instance), new StoreEpoch(9, "a successor"));
        ExpectTerminated(store);
        client.ExpectNoMsg(Quiet);
    }

    [Fact]
    public void A_write_that_misses_its_quorum_and_an_epoch_read_that_fails_are_sent_again_while_the_replies_wait()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var client = CreateTestProbe();
        Send(store, client, new Query.Add(B("/n"), 5));
        var commit = ExpectUpdate(StoreJournalKey.Instance);
        store.Tell(new UpdateTimeout(commit.Key, commit.Request), _replicator.Ref);
        var again = ExpectUpdate(StoreJournalKey.Instance);
        Assert.Same(commit.Request, again.Request);
        client.ExpectNoMsg(TimeSpan.Zero);
        Acknowledge(store, again);

        var confirmation = ExpectGet(StoreEpochKey.Instance);
        store.Tell(new GetFailure(confirmation.Key, confirmation.Request), _replicator.Ref);
        client.ExpectNoMsg(Quiet);
        Confirm(store, epoch);
        Assert.Equal(5, Integer(client.ExpectMsg<Executed>().Replies.Single()));
    }

    [Fact]
    public void A_wake_up_waits_for_the_change_that_caused_it_and_a_confirmation()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var waiter = CreateTestProbe();
        var setter = CreateTestProbe();

        Send(store, waiter, new Query.Wait([B("/go")]));
        Confirm(store, epoch);
        Assert.IsType<Reply.WaitPending>(waiter.ExpectMsg<Executed>().Replies.Single());

        Send(store, setter, new Query.Barrier(B("/go"), 1));
        var commit = ExpectUpdate(StoreJournalKey.Instance);
        Assert.Equal("1", S(Applied(commit, StoreJournal.Empty).Entries.Single().Value.Single().Value!)); // BARRIER's count
        waiter.ExpectNoMsg(Quiet); // STOP_WAITING would reveal /go
        Acknowledge(store, commit);
        Confirm(store, epoch);
        waiter.ExpectMsg<WaitCompleted>();
        Assert.IsType<Reply.StopWaiting>(setter.ExpectMsg<Executed>().Replies.Single());
    }

    [Fact]
    public void Confirmed_groups_go_into_the_buckets_when_idle_and_then_leave_the_journal()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var client = CreateTestProbe();
        Send(store, client, new Query.Set(B("/a"), B("1")), new Query.Set(B("/b"), B("2")), new Query.DeleteKey(B("/a")), new Query.QueuePush(B("/q"), B("i")));
        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance));
        Confirm(store, epoch);
        client.ExpectMsg<Executed>();

        // Idle and confirmed: one write per touched bucket, the group's stamp on each item, a tombstone for /a.
        var items = new Dictionary<string, Stamped>();
        var touched = new[] { B("/a"), B("/b"), B("/q") }.Select(k => _layout.BucketOf(k)).Distinct().Count();
        for (var i = 0; i < touched; i++)
        {
            var update = _replicator.ExpectMsg<Update>();
            Assert.StartsWith("tcpstore-bucket-", update.Key.Id);
            foreach (var (id, item) in Applied(update, StoreBucket.Empty).Items) items[id] = item;
            Acknowledge(store, update);
        }
        var stamp = new Stamp(epoch.Number, 1);
        Assert.Equal(new Stamped(stamp, null), items[ReplicaLayout.EntryId(B("/a"))]);
        Assert.Equal("2", S(items[ReplicaLayout.EntryId(B("/b"))].Value!));
        Assert.Equal([B("i")], ReplicaLayout.DecodeQueue(items[ReplicaLayout.QueueId(B("/q"))].Value!));
        Assert.All(items.Values, item => Assert.Equal(stamp, item.Stamp));

        var truncation = Applied(ExpectUpdate(StoreJournalKey.Instance), StoreJournal.Empty);
        Assert.Equal(stamp, truncation.TruncatedThrough);
        Assert.Empty(truncation.Entries);
    }

    [Fact]
    public void With_a_lease_an_epoch_read_vouches_for_replies_until_it_runs_out()
    {
        // Long enough that the steps "within the lease" finish inside it on a loaded machine.
        var lease = TimeSpan.FromSeconds(1.5);
        var store = Start(lease);
        var epoch = TakeOver(store);
        var client = CreateTestProbe();

        Send(store, client, new Query.Get(B("/k")));
        Confirm(store, epoch);
        client.ExpectMsg<Executed>();

        // Within the lease: a read leaves at once, a write once its group is on a quorum; no epoch read.
        Send(store, client, new Query.Get(B("/k")));
        client.ExpectMsg<Executed>();
        Send(store, client, new Query.Set(B("/k"), B("v")), new Query.Ping(3));
        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance));
        client.ExpectMsg<Executed>();

        // Idle past the lease (nothing is read meanwhile; the bucket copy of /k is written): a read waits again.
        var copy = _replicator.ExpectMsg<Update>();
        Acknowledge(store, copy);
        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance)); // the journal drops what the buckets hold
        // The lease ran from the confirmation's start, a moment before this wait; the margin keeps the two apart.
        _replicator.ExpectNoMsg(lease + Quiet);
        Send(store, client, new Query.Get(B("/k")));
        client.ExpectNoMsg(Quiet);
        Confirm(store, epoch);
        Assert.Equal("v", S(Value(client.ExpectMsg<Executed>().Replies.Single())));
    }

    [Fact]
    public void With_a_lease_a_new_singleton_waits_out_its_predecessors_before_reading_the_state()
    {
        var lease = TimeSpan.FromMilliseconds(600);
        var store = Start(lease);
        Answer(store, ExpectGet(StoreEpochKey.Instance), new StoreEpoch(1, "previous"));
        var claim = ExpectUpdate(StoreEpochKey.Instance);
        Acknowledge(store, claim);
        _replicator.ExpectNoMsg(lease); // the predecessor may still answer from its lease meanwhile
        ExpectGet(StoreJournalKey.Instance);
    }

    [Fact]
    public void A_nodes_batch_of_requests_runs_in_the_order_it_came()
    {
        var store = Start();
        var epoch = TakeOver(store);
        var waiter = CreateTestProbe();
        var setter = CreateTestProbe();
        Send(store, waiter, new Query.Wait([B("/go")]));
        Confirm(store, epoch);
        Assert.IsType<Reply.WaitPending>(waiter.ExpectMsg<Executed>().Replies.Single());

        // The waiter's connection closed before the SET arrived on its node: the SET wakes nobody.
        store.Tell(new NodeRequests([new ConnectionClosed(waiter.Ref), new Execute(setter.Ref, [new Query.Set(B("/go"), B("1")), new Query.Ping(4)])]));
        Acknowledge(store, ExpectUpdate(StoreJournalKey.Instance));
        Confirm(store, epoch);
        Assert.Equal(4u, Assert.IsType<Reply.Pong>(setter.ExpectMsg<Executed>().Replies.Single()).Nonce);
        waiter.ExpectNoMsg(Quiet);
    }
}
