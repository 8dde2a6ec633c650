using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.TestKit;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Cluster.Serialization;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Sdk;
using static TcpStore.Akka.Store.StoreProtocol;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace TcpStore.Akka.Cluster.Tests.Serialization;

public sealed class StoreMessageSerializerSpec : global::Akka.TestKit.Xunit2.TestKit
{
    private readonly StoreMessageSerializer _serializer;
    private readonly TestProbe _first;
    private readonly TestProbe _second;

    public StoreMessageSerializerSpec()
    {
        _serializer = new StoreMessageSerializer((ExtendedActorSystem)Sys);
        _first = CreateTestProbe();
        _second = CreateTestProbe();
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Big enough for a three-byte length prefix; a pattern, so a shifted copy would not compare equal.</summary>
    private static readonly byte[] Large = Enumerable.Range(0, 1 << 20).Select(i => (byte)(i * 31 % 251)).ToArray();

    private static readonly byte[][] ManyKeys = Enumerable.Range(0, 300).Select(i => B($"/rank_{i}")).ToArray();

    private static readonly Query[] AllQueries =
    [
        new Query.Set(B("/k"), B("v")),
        new Query.CompareSet(B("/k"), B("old"), B("new")),
        new Query.Get(B("/k")),
        new Query.Add(B("/counter"), -42),
        new Query.Check([B("/a"), B("/b")]),
        new Query.Wait([B("/a")]),
        Query.GetNumKeys.Instance,
        new Query.DeleteKey(B("/k")),
        new Query.Append(B("/k"), B("more")),
        new Query.MultiGet([B("/a"), B("/b"), B("/c")]),
        new Query.MultiSet([new(B("/a"), B("1")), new(B("/b"), [])]),
        Query.CancelWait.Instance,
        new Query.Ping(0xDEADBEEF),
        new Query.QueuePush(B("/q"), B("item")),
        new Query.QueuePop(B("/q")),
        new Query.QueueLen(B("/q")),
        Query.ListKeys.Instance,
        new Query.Barrier(B("/epoch/3"), 8),
    ];

    private static readonly Reply[] AllReplies =
    [
        new Reply.Bytes(B("value")),
        new Reply.Integer(-7),
        Reply.CheckResult.ReadyReply,
        Reply.CheckResult.NotReadyReply,
        Reply.StopWaiting.Instance,
        Reply.WaitCanceled.Instance,
        Reply.WaitPending.Instance,
        new Reply.Pong(uint.MaxValue),
        new Reply.MultiBytes([B("x"), [], B("z")]),
        new Reply.QueueItem(3, B("item")),
        new Reply.KeyList([B("/a"), B("/b")]),
    ];

    /// <summary>Every message type, every query and reply variant, and the edge cases, by name (for the theories).</summary>
    private static IEnumerable<(string Name, object Message)> Samples(IActorRef first, IActorRef second)
    {
        foreach (var query in AllQueries)
            yield return ($"Execute {query.GetType().Name}", new Execute(first, [query]));
        yield return ("Execute all queries", new Execute(first, AllQueries));
        yield return ("Execute no queries", new Execute(first, []));
        yield return ("Execute empty key and value", new Execute(first, [new Query.Set([], [])]));
        yield return ("Execute large value", new Execute(first, [new Query.Set(B("/big"), Large), new Query.QueuePush(Large, [])]));
        yield return ("Execute extreme numbers", new Execute(first,
            [new Query.Add(B("/k"), long.MinValue), new Query.Add(B("/k"), long.MaxValue), new Query.Ping(0)]));
        yield return ("Execute empty lists", new Execute(first, [new Query.Check([]), new Query.Wait([]), new Query.MultiGet([]), new Query.MultiSet([])]));
        yield return ("Execute many keys", new Execute(first, [new Query.MultiGet(ManyKeys), new Query.Wait(ManyKeys)]));

        foreach (var reply in AllReplies)
            yield return ($"Executed {reply.GetType().Name} {reply}", new Executed([reply]));
        yield return ("Executed all replies", new Executed(AllReplies));
        yield return ("Executed no replies", new Executed([]));
        yield return ("Executed empty and null items", new Executed(
            [new Reply.Bytes([]), new Reply.QueueItem(0, null), new Reply.QueueItem(1, []), new Reply.MultiBytes([]), new Reply.KeyList([])]));
        yield return ("Executed large value", new Executed([new Reply.Bytes(Large), new Reply.MultiBytes([Large, []])]));
        yield return ("Executed extreme numbers", new Executed(
            [new Reply.Integer(long.MinValue), new Reply.QueueItem(long.MaxValue, B("x")), new Reply.Pong(0)]));
        yield return ("Executed with rejection", new Executed(
            [new Reply.Integer(1), Reply.WaitPending.Instance],
            new Rejection(QueryType.Add, "add-not-a-number", "The value of \"/k\" is not a decimal integer: ü€ 😀")));
        yield return ("Executed rejection with empty strings", new Executed([], new Rejection(QueryType.ListKeys, "", "")));

        yield return ("WaitCompleted", WaitCompleted.Instance);
        yield return ("ConnectionClosed", new ConnectionClosed(second));
        yield return ("GetStats", GetStats.Instance);
        yield return ("StoreStats", new StoreStats(3, 2, 5_000_000_000, long.MaxValue, 1, -1));
        yield return ("StoreStats zero", new StoreStats(0, 0, 0, 0, 0, 0));
        yield return ("StoreStats with its host", new StoreStats(1, 0, 0, 2, 0, 0) { Host = "akka.tcp://tcpstore@127.0.0.1:4051" });
        yield return ("FindStore", new FindStore("job-42.0f3a9c", 1_048_576));
        yield return ("DropStore", new DropStore("job-42.0f3a9c"));
        yield return ("StoreDropped", new StoreDropped("job-42.0f3a9c"));
        yield return ("Prepare", new StoreCatalog.Prepare("job-42", "0f3a9c", "port = 29601\nlimits { max-keys-per-request = 10 }"));
        yield return ("Prepared", new StoreCatalog.Prepared("job-42", "0f3a9c", "akka.tcp://tcpstore@127.0.0.1:4052", null));
        yield return ("Prepared refused", new StoreCatalog.Prepared("job-42", "0f3a9c", "akka.tcp://tcpstore@127.0.0.1:4052", "it could not bind: in use"));
        yield return ("Commit", new StoreCatalog.Commit("job-42", "0f3a9c"));
        yield return ("Abort", new StoreCatalog.Abort("job-42", "0f3a9c"));
        yield return ("Withdraw", new StoreCatalog.Withdraw("job-42", "0f3a9c"));
        yield return ("Withdrawn", new StoreCatalog.Withdrawn("job-42", "0f3a9c"));
        yield return ("GetWaiters default", new GetWaiters());
        yield return ("GetWaiters", new GetWaiters(7, int.MaxValue));
        yield return ("Waiters none", new Waiters(0, []));
        yield return ("Waiters", new Waiters(12,
            [new AwaitedKey(B("/a"), 3, [first, second, first]), new AwaitedKey([], 0, []), new AwaitedKey(Large, 1, [second])]));
        yield return ("GetBarriers default", new GetBarriers());
        yield return ("GetBarriers", new GetBarriers(3, int.MaxValue));
        yield return ("Barriers none", new Barriers(0, []));
        yield return ("Barriers", new Barriers(5,
            [new BarrierInProgress(B("/epoch"), 3, 8, 2, [first, second]), new BarrierInProgress([], null, long.MaxValue, 0, []),
             new BarrierInProgress(Large, long.MinValue, -1, 1, [second])]));
        yield return ("ListEntries default", new ListEntries(0, 100));
        yield return ("ListEntries", new ListEntries(10, 20, 64));
        yield return ("Entries none", new Entries(0, 0, []));
        yield return ("Entries", new Entries(100, 40,
            [new Entry(B("/a"), 5, null), new Entry(B("/b"), 3, B("xyz")), new Entry([], 0, []), new Entry(B("/big"), Large.Length, Large)]));
        yield return ("ListQueues default", new ListQueues());
        yield return ("ListQueues", new ListQueues(3));
        yield return ("QueueList none", new QueueList(0, []));
        yield return ("QueueList", new QueueList(9, [new QueueInfo(B("/q1"), 1), new QueueInfo([], int.MaxValue)]));

        // The replicated state (it travels inside DistributedData's messages, through this serializer).
        yield return ("StoreEpoch none", StoreEpoch.None);
        yield return ("StoreEpoch", new StoreEpoch(long.MaxValue, "akka.tcp://tcpstore@10.0.0.1:4051/user/tcpstore/singleton/store/store-2#42 ü€"));
        yield return ("StoreJournal empty", StoreJournal.Empty);
        yield return ("StoreJournal", StoreJournal.From(Journal));
        yield return ("JournalDelta", new JournalDelta(Journal));
        yield return ("StoreBucket empty", StoreBucket.Empty);
        yield return ("StoreBucket", StoreBucket.From(Bucket));
        yield return ("BucketDelta", new BucketDelta(Bucket));

        // Batches between a node's gateway and a singleton elsewhere.
        yield return ("NodeRequests", new NodeRequests(
            [new Execute(first, [new Query.Add(B("/n"), 1), new Query.Wait([B("/go")])]), new ConnectionClosed(second), new Execute(second, [])]));
        yield return ("NodeRequests none", new NodeRequests([]));
        yield return ("NodeReplies", new NodeReplies(
            [new Delivery(first, new Executed([new Reply.Integer(1), Reply.WaitPending.Instance])), new Delivery(second, WaitCompleted.Instance),
             new Delivery(first, new Executed([], new Rejection(QueryType.Add, "r", "d")))]));
        yield return ("NodeReplies none", new NodeReplies([]));
    }

    private static readonly StoreEpoch Epoch = new(3, "akka.tcp://tcpstore@127.0.0.1:4051/user/tcpstore/singleton/store/store-1#7");

    /// <summary>Two groups: changes with a value, an empty value, a tombstone, a queue, a key with every byte value.</summary>
    private static readonly JournalContent Journal = new(Epoch, new Stamp(2, 9), JournalContent.Empty.Entries
        .Add(new Stamp(3, 1), [new Change(ReplicaLayout.EntryId(B("/a")), B("1")), new Change(ReplicaLayout.EntryId([]), [])])
        .Add(new Stamp(3, 2), [new Change(ReplicaLayout.EntryId(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray()), null),
            new Change(ReplicaLayout.QueueId(B("/q")), ReplicaLayout.EncodeQueue([B("x"), []]))]));

    private static readonly BucketContent Bucket = BucketContent.Of(Epoch,
    [
        new(ReplicaLayout.EntryId(B("/a")), new Stamped(new Stamp(3, 0), B("1"))),
        new(ReplicaLayout.EntryId(B("/deleted")), new Stamped(new Stamp(3, 7), null)),
        new(ReplicaLayout.QueueId(B("/q")), new Stamped(new Stamp(long.MaxValue, long.MinValue), []))
    ]);

    public static TheoryData<string> SampleNames() => new(Samples(ActorRefs.Nobody, ActorRefs.Nobody).Select(s => s.Name));

    private object Sample(string name) => Samples(_first.Ref, _second.Ref).Single(s => s.Name == name).Message;

    private object RoundTrip(object message) =>
        _serializer.FromBinary(_serializer.ToBinary(message), _serializer.Manifest(message));

    /// <summary>Payloads small enough to try every prefix and every corrupted byte of.</summary>
    private IEnumerable<(string Name, string Manifest, byte[] Payload)> SmallPayloads() =>
        Samples(_first.Ref, _second.Ref)
            .Select(s => (s.Name, _serializer.Manifest(s.Message), _serializer.ToBinary(s.Message)))
            .Where(s => s.Item3.Length <= 4096);

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void Round_trips_with_equal_content(string name)
    {
        var message = Sample(name);
        Structural.AssertEqual(message, RoundTrip(message));
    }

    [Fact]
    public void Samples_cover_every_message_type_and_every_variant()
    {
        var samples = Samples(_first.Ref, _second.Ref).Select(s => s.Message).ToList();
        Assert.Equal(
            StoreMessageSerializer.MessageTypes.Select(t => t.Name).Order(),
            samples.Select(m => m.GetType().Name).Distinct().Order());
        Assert.Equal(WireFormat.LastQueryType, AllQueries.Select(q => q.Type).Max());
        Assert.Equal(Enumerable.Range(1, (int)WireFormat.LastQueryType), AllQueries.Select(q => (int)q.Type));
        Assert.Equal(
            typeof(Reply).GetNestedTypes().Where(t => t.IsSubclassOf(typeof(Reply))).Select(t => t.Name).Order(),
            AllReplies.Select(r => r.GetType().Name).Distinct().Order());
    }

    [Fact]
    public void Singletons_deserialize_to_the_shared_instances()
    {
        Assert.Same(WaitCompleted.Instance, RoundTrip(WaitCompleted.Instance));
        Assert.Same(GetStats.Instance, RoundTrip(GetStats.Instance));

        var queries = ((Execute)RoundTrip(new Execute(_first.Ref, AllQueries))).Queries;
        Assert.Same(Query.GetNumKeys.Instance, queries[6]);
        Assert.Same(Query.CancelWait.Instance, queries[11]);
        Assert.Same(Query.ListKeys.Instance, queries[16]);

        var replies = ((Executed)RoundTrip(new Executed(AllReplies))).Replies;
        Assert.Same(Reply.CheckResult.ReadyReply, replies[2]);
        Assert.Same(Reply.CheckResult.NotReadyReply, replies[3]);
        Assert.Same(Reply.StopWaiting.Instance, replies[4]);
        Assert.Same(Reply.WaitCanceled.Instance, replies[5]);
        Assert.Same(Reply.WaitPending.Instance, replies[6]);
    }

    [Fact]
    public void Null_and_empty_values_stay_distinct()
    {
        var replies = ((Executed)RoundTrip(new Executed([new Reply.QueueItem(0, null), new Reply.QueueItem(1, [])]))).Replies;
        Assert.Null(((Reply.QueueItem)replies[0]).Value);
        Assert.Empty(Assert.IsType<byte[]>(((Reply.QueueItem)replies[1]).Value));
        var entries = ((Entries)RoundTrip(new Entries(2, 0, [new Entry(B("/a"), 1, null), new Entry(B("/b"), 0, [])]))).Items;
        Assert.Null(entries[0].Value);
        Assert.Empty(Assert.IsType<byte[]>(entries[1].Value));
        Assert.Null(((Executed)RoundTrip(new Executed([]))).Rejection);
    }

    [Fact]
    public void Payloads_have_the_documented_layout()
    {
        // Count 4; each reply is the type of a query whose reply has its layout, then its wire bytes: ADD's i64 1,
        // CHECK's READY byte, QUEUE_POP's i64 0 (no item), and WaitPending as shape 0 with no bytes; no rejection (0).
        Assert.Equal(
            Convert.FromHexString("04" + "04" + "0100000000000000" + "05" + "00" + "0F" + "0000000000000000" + "00" + "00"),
            _serializer.ToBinary(new Executed(
                [new Reply.Integer(1), Reply.CheckResult.ReadyReply, new Reply.QueueItem(0, null), Reply.WaitPending.Instance])));
        // MULTI_GET's reply carries its value count before its wire bytes.
        Assert.Equal(
            Convert.FromHexString("01" + "0A" + "02" + "0100000000000000" + "78" + "0000000000000000" + "00"),
            _serializer.ToBinary(new Executed([new Reply.MultiBytes([B("x"), []])])));
        Assert.Equal(Convert.FromHexString("010000000200000003000000"), _serializer.ToBinary(new ListEntries(1, 2, 3)));
        Assert.Equal(Convert.FromHexString("09000000" + "01" + "03" + "2F7161" + "11000000"),
            _serializer.ToBinary(new QueueList(9, [new QueueInfo(B("/qa"), 17)])));
        Assert.Empty(_serializer.ToBinary(WaitCompleted.Instance));

        // A journal: its generation (i64 number, owner), the watermark (two i64), one entry: stamp, one change: the
        // id's characters as bytes ('k', '/', 'a'), the value's length plus one and its byte.
        Assert.Equal(
            Convert.FromHexString("0200000000000000" + "01" + "6F" + "0100000000000000" + "0500000000000000" + "01" +
                                  "0200000000000000" + "0100000000000000" + "01" + "036B2F61" + "0231"),
            _serializer.ToBinary(StoreJournal.From(JournalContent.Group(new StoreEpoch(2, "o"), new Stamp(2, 1),
                [new Change(ReplicaLayout.EntryId(B("/a")), B("1"))], new Stamp(1, 5)))));
        // A bucket: generation, one item: id, stamp, and a tombstone (length 0).
        Assert.Equal(
            Convert.FromHexString("0200000000000000" + "01" + "6F" + "01" + "036B2F61" + "0200000000000000" + "0300000000000000" + "00"),
            _serializer.ToBinary(new BucketDelta(BucketContent.Of(new StoreEpoch(2, "o"),
                [new(ReplicaLayout.EntryId(B("/a")), new Stamped(new Stamp(2, 3), null))]))));

        // The connection's path as a string, the query count, then the queries exactly as on a client's wire: PING's
        // type 13 and its nonce, GET's type 3 and a u64-length-prefixed 200-byte key.
        var path = B(AkkaSerialization.SerializedActorPath(_first.Ref));
        Assert.True(path.Length < 128, $"path {path.Length} bytes");
        byte[] expected = [(byte)path.Length, .. path, 0x02, 0x0D, 0x04, 0x03, 0x02, 0x01, 0x03, 0xC8, 0, 0, 0, 0, 0, 0, 0, .. new byte[200]];
        Assert.Equal(expected, _serializer.ToBinary(new Execute(_first.Ref, [new Query.Ping(0x01020304), new Query.Get(new byte[200])])));
    }

    [Fact]
    public void Manifests_are_short_and_distinct()
    {
        var manifests = Samples(_first.Ref, _second.Ref)
            .GroupBy(s => s.Message.GetType())
            .Select(g => _serializer.Manifest(g.First().Message))
            .ToList();
        Assert.Equal(StoreMessageSerializer.MessageTypes.Count, manifests.Distinct().Count());
        Assert.All(manifests, m => Assert.Equal(1, m.Length));
    }

    [Fact]
    public void Actor_refs_resolve_to_the_same_live_actor()
    {
        var message = new Execute(_first.Ref, []);
        var back = (Execute)RoundTrip(message);

        Assert.Equal(_first.Ref, back.Connection);
        back.Connection.Tell("through the deserialized ref");
        _first.ExpectMsg("through the deserialized ref");

        var waiters = (Waiters)RoundTrip(new Waiters(1, [new AwaitedKey(B("/a"), 2, [_second.Ref, _first.Ref])]));
        Assert.Equal([_second.Ref, _first.Ref], waiters.Keys[0].Connections);
    }

    [Fact]
    public void Every_truncation_is_a_serialization_exception()
    {
        var tried = 0;
        foreach (var (name, manifest, payload) in SmallPayloads())
        {
            for (var length = 0; length < payload.Length; length++)
            {
                var prefix = payload[..length];
                var ex = Record.Exception(() => _serializer.FromBinary(prefix, manifest));
                Assert.True(ex is SerializationException, $"{name} cut to {length} of {payload.Length} bytes: {Describe(ex)}");
                tried++;
            }
        }
        Assert.True(tried > 1000, $"only {tried} prefixes");
    }

    [Fact]
    public void Trailing_bytes_are_a_serialization_exception()
    {
        foreach (var (name, manifest, payload) in SmallPayloads())
        {
            var ex = Record.Exception(() => _serializer.FromBinary([.. payload, 0], manifest));
            Assert.True(ex is SerializationException, $"{name} plus one byte: {Describe(ex)}");
        }
    }

    [Fact]
    public void Corrupted_bytes_decode_or_fail_with_a_serialization_exception()
    {
        // A corrupted byte may still decode (a different key byte, say); anything else must be a SerializationException.
        foreach (var (name, manifest, payload) in SmallPayloads())
        {
            for (var i = 0; i < payload.Length; i++)
            {
                foreach (var value in new byte[] { 0x00, 0x7F, 0x80, 0xFF, (byte)(payload[i] ^ 0x01) })
                {
                    var corrupted = (byte[])payload.Clone();
                    corrupted[i] = value;
                    var ex = Record.Exception(() => _serializer.FromBinary(corrupted, manifest));
                    Assert.True(ex is null or SerializationException, $"{name} with byte {i} set to {value:X2}: {Describe(ex)}");
                }
            }
        }
    }

    [Fact]
    public void Random_garbage_decodes_or_fails_with_a_serialization_exception()
    {
        var random = new Random(7370);
        var manifests = Samples(_first.Ref, _second.Ref).Select(s => _serializer.Manifest(s.Message)).Distinct().ToList();
        foreach (var manifest in manifests)
        {
            for (var i = 0; i < 500; i++)
            {
                var garbage = new byte[random.Next(0, 48)];
                random.NextBytes(garbage);
                var ex = Record.Exception(() => _serializer.FromBinary(garbage, manifest));
                Assert.True(ex is null or SerializationException, $"[{manifest}] {Convert.ToHexString(garbage)}: {Describe(ex)}");
            }
        }
    }

    [Theory]
    [InlineData("D", "FFFFFFFF07", "count")] // 2^31-1 replies in a five-byte payload: refused before allocating
    [InlineData("D", "FFFFFFFF0F", "length exceeds")] // beyond int
    [InlineData("D", "808080808000", "five bytes")] // a six-byte varint
    [InlineData("D", "0101", "reply shape 1 is unknown")] // SET has no reply
    [InlineData("D", "017F", "reply shape 127 is unknown")]
    [InlineData("D", "0002", "flag byte is 2")]
    [InlineData("D", "0001FF00", "query type 255")]
    [InlineData("D", "0103FFFFFFFFFFFFFFFF", "does not parse")] // a vector no reply can have, not allocated
    [InlineData("D", "01030A00000000000000", "cut short")] // a 10-byte vector in no bytes
    [InlineData("D", "010A03", "count of 3")] // MULTI_GET with 3 values in no bytes
    [InlineData("X", "000100", "do not parse")] // an empty path, one query; VALIDATE never travels as a query
    [InlineData("X", "00017F", "do not parse")]
    [InlineData("X", "00010B0500000000000000", "do not parse")] // MULTI_SET with 5 pairs in no bytes
    [InlineData("X", "00020D01020304", "1 queries where the count says 2")] // cut at a query boundary
    [InlineData("S", "00", "1 bytes are left over")]
    [InlineData("M", "01" + "44" + "00", "manifest [D]")] // a reply inside a batch of requests
    [InlineData("J", "0000000000000000" + "00" + "00000000000000000000000000000000" + "02" +
                     "00000000000000000000000000000001" + "00" + "00000000000000000000000000000001" + "00", "appears twice")]
    [InlineData("K", "0000000000000000" + "00" + "02" + "016B" + "00000000000000000000000000000000" + "00" +
                     "016B" + "00000000000000000000000000000000" + "00", "appears twice")]
    public void Hostile_payloads_are_refused_clearly(string manifest, string hex, string expected)
    {
        var ex = Assert.Throws<SerializationException>(() => _serializer.FromBinary(Convert.FromHexString(hex), manifest));
        Assert.Contains(expected, ex.Message);
        Assert.Contains($"[{manifest}]", ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Z")]
    [InlineData("x")]
    [InlineData("XX")]
    [InlineData("TcpStore.Akka.Store.StoreProtocol+Execute, TcpStore.Akka")]
    public void Unknown_manifest_is_a_serialization_exception(string manifest)
    {
        var ex = Assert.Throws<SerializationException>(() => _serializer.FromBinary(_serializer.ToBinary(new ListQueues(1)), manifest));
        Assert.Contains("manifest", ex.Message);
    }

    [Fact]
    public void Foreign_objects_are_refused()
    {
        Assert.Throws<ArgumentException>(() => _serializer.ToBinary("a string"));
        Assert.Throws<ArgumentException>(() => _serializer.Manifest(new Rejection(QueryType.Get, "r", "d")));
    }

    [Fact]
    public void The_comparer_sees_every_difference()
    {
        // The round-trip assertions are only as good as Structural; these must all fail.
        (object, object)[] different =
        [
            (new Entry(B("/a"), 1, null), new Entry(B("/a"), 1, [])),
            (new Entry(B("/a"), 1, B("x")), new Entry(B("/a"), 1, B("y"))),
            (new Entry(B("/a"), 1, null), new Entry(B("/a"), 2, null)),
            (new Executed([new Reply.Bytes(B("a"))]), new Executed([new Reply.Bytes(B("a")), new Reply.Bytes(B("a"))])),
            (new Executed([new Reply.MultiBytes([B("a"), B("b")])]), new Executed([new Reply.MultiBytes([B("a"), B("c")])])),
            (new Executed([Reply.CheckResult.ReadyReply]), new Executed([Reply.CheckResult.NotReadyReply])),
            (new Executed([Reply.StopWaiting.Instance]), new Executed([Reply.WaitPending.Instance])),
            (new Executed([], new Rejection(QueryType.Add, "r", "d")), new Executed([], new Rejection(QueryType.Add, "r", "e"))),
            (new Executed([], new Rejection(QueryType.Add, "r", "d")), new Executed([])),
            (new Execute(_first.Ref, [new Query.MultiSet([new(B("k"), B("v"))])]), new Execute(_first.Ref, [new Query.MultiSet([new(B("k"), B("w"))])])),
            (new Execute(_first.Ref, [new Query.Add(B("k"), 1)]), new Execute(_first.Ref, [new Query.Add(B("k"), -1)])),
            (new Execute(_first.Ref, []), new Execute(_second.Ref, [])),
            (new Execute(_first.Ref, [new Query.Get(B("k"))]), new Execute(_first.Ref, [new Query.DeleteKey(B("k"))])),
        ];
        foreach (var (expected, actual) in different)
            Assert.ThrowsAny<XunitException>(() => Structural.AssertEqual(expected, actual));
    }

    private static string Describe(Exception? ex) => ex is null ? "no exception" : $"{ex.GetType().Name}: {ex.Message}";
}
