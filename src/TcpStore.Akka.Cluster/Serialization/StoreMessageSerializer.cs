using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace TcpStore.Akka.Cluster.Serialization;

/// <summary>
/// Binary serializer for the <see cref="StoreProtocol"/> messages that cross nodes in cluster mode (a connection on
/// one node talks to the store singleton on another). Queries and replies travel in their wire layout, written and
/// read by the one codec of <c>TcpStore.Protocol</c>; only the envelope around them is this serializer's own.
/// </summary>
/// <remarks>
/// <para>
/// Envelope: fixed-width numbers little-endian; lengths and counts unsigned LEB128 varints; a byte array is its
/// length then its bytes (a nullable one its length plus one, 0 for null); a string is UTF-8 as a byte array; an
/// actor ref is its serialized path as a string; a list is its count then its elements.
/// </para>
/// <list type="table">
/// <item><term>X</term><description><see cref="Execute"/>: connection ref, query count, then the queries exactly as a client sends them (without VALIDATE)</description></item>
/// <item><term>D</term><description><see cref="Executed"/>: replies, then a rejection flag and, if set, its query type byte, reason and detail</description></item>
/// <item><term>W</term><description><see cref="WaitCompleted"/>: empty</description></item>
/// <item><term>C</term><description><see cref="ConnectionClosed"/>: connection ref</description></item>
/// <item><term>S</term><description><see cref="GetStats"/>: empty</description></item>
/// <item><term>s</term><description><see cref="StoreStats"/>: i32 keys, i32 queues, i64 queue items, i64 stored bytes, i32 waiting connections, i32 registrations, a host flag and, if set, the host</description></item>
/// <item><term>G</term><description><see cref="GetWaiters"/>: i32 max keys, i32 max connections per key</description></item>
/// <item><term>g</term><description><see cref="Waiters"/>: i32 total keys, then per key: key, i32 registrations, connection refs</description></item>
/// <item><term>B</term><description><see cref="GetBarriers"/>: i32 max barriers, i32 max connections per barrier</description></item>
/// <item><term>b</term><description><see cref="Barriers"/>: i32 total, then per barrier: key, arrived (a flag, then i64), i64 expected, i32 waiting, connection refs</description></item>
/// <item><term>E</term><description><see cref="ListEntries"/>: i32 offset, i32 limit, i32 preview bytes</description></item>
/// <item><term>e</term><description><see cref="Entries"/>: i32 total, i32 offset, then per entry: key, i32 value bytes, nullable value</description></item>
/// <item><term>Q</term><description><see cref="ListQueues"/>: i32 limit</description></item>
/// <item><term>q</term><description><see cref="QueueList"/>: i32 total, then per queue: name, i32 items</description></item>
/// <item><term>P</term><description><see cref="StoreEpoch"/> (replicated): i64 number, owner</description></item>
/// <item><term>J</term><description><see cref="StoreJournal"/> (replicated): generation (an epoch), truncated-through stamp, then per entry: stamp, then per change: id, nullable value</description></item>
/// <item><term>j</term><description><see cref="JournalDelta"/>: as J</description></item>
/// <item><term>K</term><description><see cref="StoreBucket"/> (replicated): generation, then per item in ordinal order of ids: id, stamp, nullable value</description></item>
/// <item><term>k</term><description><see cref="BucketDelta"/>: as K</description></item>
/// <item><term>M</term><description><see cref="NodeRequests"/>: per message: its manifest's byte (X or C), then its payload as a byte array</description></item>
/// <item><term>R</term><description><see cref="NodeReplies"/>: per delivery: connection ref, its message's manifest byte (D or W), then its payload as a byte array</description></item>
/// <item><term>F</term><description><see cref="FindStore"/>: entity id, i32 max queue length</description></item>
/// <item><term>O</term><description><see cref="DropStore"/>: entity id</description></item>
/// <item><term>o</term><description><see cref="StoreDropped"/>: entity id</description></item>
/// <item><term>1</term><description><see cref="StoreCatalog.Prepare"/>: name, incarnation, settings</description></item>
/// <item><term>2</term><description><see cref="StoreCatalog.Prepared"/>: name, incarnation, node, a failure flag and, if set, the failure</description></item>
/// <item><term>3, 4, 5, 6</term><description><see cref="StoreCatalog.Commit"/>, <see cref="StoreCatalog.Abort"/>, <see cref="StoreCatalog.Withdraw"/>, <see cref="StoreCatalog.Withdrawn"/>: name, incarnation</description></item>
/// </list>
/// <para>
/// A stamp is i64 epoch, i64 sequence. A replica id (<see cref="ReplicaLayout"/>) is written as a byte array of its
/// characters, each below 256. The replicated types travel inside Akka.DistributedData's own messages, which ask
/// this serializer for them; equal states give equal bytes (the replicator's gossip compares digests).
/// </para>
/// <para>
/// A reply on the wire does not name its type (a client knows which query it answers), so each carries one shape
/// byte first: the type of a query whose reply has its layout (GET for a byte vector, ADD for an integer, CHECK,
/// WAIT for STOP_WAITING, CANCEL_WAIT for WAIT_CANCELED, PING, MULTI_GET followed by its value count, QUEUE_POP,
/// LIST_KEYS), or 0 for <see cref="Reply.WaitPending"/>, which has no wire form. The reply's wire bytes follow.
/// </para>
/// <para>Manifests, shape bytes and field order are the format between nodes: never renumber, only add.</para>
/// </remarks>
public sealed class StoreMessageSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>The serializer id on the wire: fixed, since every node must agree. Akka keeps 0-100 for its own.</summary>
    public const int SerializerId = 7370;

    /// <summary>The name the serializer is registered under.</summary>
    public const string Name = "tcpstore";

    private const string ExecuteManifest = "X";
    private const string ExecutedManifest = "D";
    private const string WaitCompletedManifest = "W";
    private const string ConnectionClosedManifest = "C";
    private const string GetStatsManifest = "S";
    private const string StoreStatsManifest = "s";
    private const string GetWaitersManifest = "G";
    private const string WaitersManifest = "g";
    private const string GetBarriersManifest = "B";
    private const string BarriersManifest = "b";
    private const string ListEntriesManifest = "E";
    private const string EntriesManifest = "e";
    private const string ListQueuesManifest = "Q";
    private const string QueueListManifest = "q";
    private const string EpochManifest = "P";
    private const string JournalManifest = "J";
    private const string JournalDeltaManifest = "j";
    private const string BucketManifest = "K";
    private const string BucketDeltaManifest = "k";
    private const string NodeRequestsManifest = "M";
    private const string NodeRepliesManifest = "R";
    private const string FindStoreManifest = "F";
    private const string DropStoreManifest = "O";
    private const string StoreDroppedManifest = "o";
    private const string PrepareManifest = "1";
    private const string PreparedManifest = "2";
    private const string CommitManifest = "3";
    private const string AbortManifest = "4";
    private const string WithdrawManifest = "5";
    private const string WithdrawnManifest = "6";

    /// <summary>The shape byte of <see cref="Reply.WaitPending"/>: VALIDATE's type, which no reply answers.</summary>
    private const QueryType NoWireForm = QueryType.Validate;

    /// <summary>Every message type this serializer handles (the bindings <c>WithTcpStoreCluster</c> registers).</summary>
    public static IReadOnlyList<Type> MessageTypes { get; } =
    [
        typeof(Execute), typeof(Executed), typeof(WaitCompleted), typeof(ConnectionClosed),
        typeof(GetStats), typeof(StoreStats), typeof(GetWaiters), typeof(Waiters), typeof(GetBarriers), typeof(Barriers),
        typeof(ListEntries), typeof(Entries), typeof(ListQueues), typeof(QueueList),
        typeof(StoreEpoch), typeof(StoreJournal), typeof(JournalDelta), typeof(StoreBucket), typeof(BucketDelta),
        typeof(NodeRequests), typeof(NodeReplies),
        typeof(FindStore), typeof(DropStore), typeof(StoreDropped),
        typeof(StoreCatalog.Prepare), typeof(StoreCatalog.Prepared), typeof(StoreCatalog.Commit), typeof(StoreCatalog.Abort),
        typeof(StoreCatalog.Withdraw), typeof(StoreCatalog.Withdrawn),
    ];

    /// <inheritdoc />
    public override int Identifier => SerializerId;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        Execute => ExecuteManifest,
        Executed => ExecutedManifest,
        WaitCompleted => WaitCompletedManifest,
        ConnectionClosed => ConnectionClosedManifest,
        GetStats => GetStatsManifest,
        StoreStats => StoreStatsManifest,
        GetWaiters => GetWaitersManifest,
        Waiters => WaitersManifest,
        GetBarriers => GetBarriersManifest,
        Barriers => BarriersManifest,
        ListEntries => ListEntriesManifest,
        Entries => EntriesManifest,
        ListQueues => ListQueuesManifest,
        QueueList => QueueListManifest,
        StoreEpoch => EpochManifest,
        StoreJournal => JournalManifest,
        JournalDelta => JournalDeltaManifest,
        StoreBucket => BucketManifest,
        BucketDelta => BucketDeltaManifest,
        NodeRequests => NodeRequestsManifest,
        NodeReplies => NodeRepliesManifest,
        FindStore => FindStoreManifest,
        DropStore => DropStoreManifest,
        StoreDropped => StoreDroppedManifest,
        StoreCatalog.Prepare => PrepareManifest,
        StoreCatalog.Prepared => PreparedManifest,
        StoreCatalog.Commit => CommitManifest,
        StoreCatalog.Abort => AbortManifest,
        StoreCatalog.Withdraw => WithdrawManifest,
        StoreCatalog.Withdrawn => WithdrawnManifest,
        _ => throw Unsupported(o),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj)
    {
        if (obj is WaitCompleted or GetStats) return [];
        var writer = new PayloadWriter();
        switch (obj)
        {
            case Execute m:
                writer.String(AkkaSerialization.SerializedActorPath(m.Connection));
                // The count lets a payload cut at a query boundary be told from a shorter batch.
                writer.Length(m.Queries.Count);
                foreach (var query in m.Queries) QueryEncoder.Encode(query, writer.Buffer);
                break;
            case Executed m:
                WriteReplies(writer, m.Replies);
                writer.Bool(m.Rejection is not null);
                if (m.Rejection is { } rejection)
                {
                    writer.Byte((byte)rejection.Query);
                    writer.String(rejection.Reason);
                    writer.String(rejection.Detail);
                }
                break;
            case ConnectionClosed m:
                writer.String(AkkaSerialization.SerializedActorPath(m.Connection));
                break;
            case StoreStats m:
                writer.Int32(m.Keys);
                writer.Int32(m.Queues);
                writer.Int64(m.QueueItems);
                writer.Int64(m.StoredBytes);
                writer.Int32(m.WaitingConnections);
                writer.Int32(m.WaiterRegistrations);
                writer.Bool(m.Host is not null);
                if (m.Host is { } host) writer.String(host);
                break;
            case GetWaiters m:
                writer.Int32(m.MaxKeys);
                writer.Int32(m.MaxConnectionsPerKey);
                break;
            case Waiters m:
                writer.Int32(m.TotalKeys);
                writer.Length(m.Keys.Count);
                foreach (var key in m.Keys)
                {
                    writer.Bytes(key.Key);
                    writer.Int32(key.Registrations);
                    WriteRefs(writer, key.Connections);
                }
                break;
            case GetBarriers m:
                writer.Int32(m.MaxBarriers);
                writer.Int32(m.MaxConnectionsPerBarrier);
                break;
            case Barriers m:
                writer.Int32(m.Total);
                writer.Length(m.Items.Count);
                foreach (var barrier in m.Items)
                {
                    writer.Bytes(barrier.Key);
                    writer.Bool(barrier.Arrived is not null);
                    if (barrier.Arrived is { } arrived) writer.Int64(arrived);
                    writer.Int64(barrier.Expected);
                    writer.Int32(barrier.Waiting);
                    WriteRefs(writer, barrier.Connections);
                }
                break;
            case ListEntries m:
                writer.Int32(m.Offset);
                writer.Int32(m.Limit);
                writer.Int32(m.PreviewBytes);
                break;
            case Entries m:
                writer.Int32(m.Total);
                writer.Int32(m.Offset);
                writer.Length(m.Items.Count);
                foreach (var entry in m.Items)
                {
                    writer.Bytes(entry.Key);
                    writer.Int32(entry.ValueBytes);
                    writer.NullableBytes(entry.Value);
                }
                break;
            case ListQueues m:
                writer.Int32(m.Limit);
                break;
            case QueueList m:
                writer.Int32(m.Total);
                writer.Length(m.Queues.Count);
                foreach (var queue in m.Queues)
                {
                    writer.Bytes(queue.Name);
                    writer.Int32(queue.Items);
                }
                break;
            case StoreEpoch m:
                WriteEpoch(writer, m);
                break;
            case StoreJournal m:
                WriteJournal(writer, m.Content);
                break;
            case JournalDelta m:
                WriteJournal(writer, m.Content);
                break;
            case StoreBucket m:
                WriteBucket(writer, m.Content);
                break;
            case BucketDelta m:
                WriteBucket(writer, m.Content);
                break;
            case NodeRequests m:
                writer.Length(m.Messages.Count);
                foreach (var message in m.Messages)
                {
                    writer.Byte((byte)(message is Execute or ConnectionClosed ? Manifest(message)[0] : throw Unsupported(message)));
                    writer.Bytes(ToBinary(message));
                }
                break;
            case NodeReplies m:
                writer.Length(m.Deliveries.Count);
                foreach (var delivery in m.Deliveries)
                {
                    writer.String(AkkaSerialization.SerializedActorPath(delivery.Connection));
                    writer.Byte((byte)(delivery.Message is Executed or WaitCompleted ? Manifest(delivery.Message)[0] : throw Unsupported(delivery.Message)));
                    writer.Bytes(ToBinary(delivery.Message));
                }
                break;
            case FindStore m:
                writer.String(m.EntityId);
                writer.Int32(m.MaxQueueLength);
                break;
            case DropStore m:
                writer.String(m.EntityId);
                break;
            case StoreDropped m:
                writer.String(m.EntityId);
                break;
            case StoreCatalog.IStep m:
                writer.String(m.Name);
                writer.String(m.Incarnation);
                if (m is StoreCatalog.Prepare prepare) writer.String(prepare.Settings);
                if (m is StoreCatalog.Prepared prepared)
                {
                    writer.String(prepared.Node);
                    writer.Bool(prepared.Failure is not null);
                    if (prepared.Failure is { } failure) writer.String(failure);
                }
                break;
            default:
                throw Unsupported(obj);
        }

        return writer.ToArray();
    }

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        var reader = new PayloadReader(bytes, manifest);
        object message = manifest switch
        {
            ExecuteManifest => new Execute(ReadRef(ref reader), ReadQueries(ref reader)),
            ExecutedManifest => new Executed(ReadReplies(ref reader), ReadRejection(ref reader)),
            WaitCompletedManifest => WaitCompleted.Instance,
            ConnectionClosedManifest => new ConnectionClosed(ReadRef(ref reader)),
            GetStatsManifest => GetStats.Instance,
            StoreStatsManifest => new StoreStats(
                reader.Int32(), reader.Int32(), reader.Int64(), reader.Int64(), reader.Int32(), reader.Int32())
            {
                Host = reader.Bool() ? reader.String() : null,
            },
            GetWaitersManifest => new GetWaiters(reader.Int32(), reader.Int32()),
            WaitersManifest => ReadWaiters(ref reader),
            GetBarriersManifest => new GetBarriers(reader.Int32(), reader.Int32()),
            BarriersManifest => ReadBarriers(ref reader),
            ListEntriesManifest => new ListEntries(reader.Int32(), reader.Int32(), reader.Int32()),
            EntriesManifest => ReadEntries(ref reader),
            ListQueuesManifest => new ListQueues(reader.Int32()),
            QueueListManifest => ReadQueueList(ref reader),
            EpochManifest => ReadEpoch(ref reader),
            JournalManifest => StoreJournal.From(ReadJournal(ref reader)),
            JournalDeltaManifest => new JournalDelta(ReadJournal(ref reader)),
            BucketManifest => StoreBucket.From(ReadBucket(ref reader)),
            BucketDeltaManifest => new BucketDelta(ReadBucket(ref reader)),
            NodeRequestsManifest => ReadNodeRequests(ref reader),
            NodeRepliesManifest => ReadNodeReplies(ref reader),
            FindStoreManifest => new FindStore(reader.String(), reader.Int32()),
            DropStoreManifest => new DropStore(reader.String()),
            StoreDroppedManifest => new StoreDropped(reader.String()),
            PrepareManifest => new StoreCatalog.Prepare(reader.String(), reader.String(), reader.String()),
            PreparedManifest => new StoreCatalog.Prepared(reader.String(), reader.String(), reader.String(), reader.Bool() ? reader.String() : null),
            CommitManifest => new StoreCatalog.Commit(reader.String(), reader.String()),
            AbortManifest => new StoreCatalog.Abort(reader.String(), reader.String()),
            WithdrawManifest => new StoreCatalog.Withdraw(reader.String(), reader.String()),
            WithdrawnManifest => new StoreCatalog.Withdrawn(reader.String(), reader.String()),
            _ => throw new SerializationException($"Unknown TcpStore message manifest [{manifest}] for serializer {SerializerId}."),
        };
        reader.End();
        return message;
    }

    private static ArgumentException Unsupported(object? o) =>
        new($"{nameof(StoreMessageSerializer)} cannot serialize [{o?.GetType().FullName ?? "null"}].");

    // ---- Queries and replies: their wire layout ----

    /// <summary>The count, then the rest of the payload parsed by the wire codec (the limits were enforced on the
    /// node that holds the connection).</summary>
    private static IReadOnlyList<Query> ReadQueries(ref PayloadReader reader)
    {
        var count = reader.Length();
        IReadOnlyList<Query> queries;
        try
        {
            queries = QueryParser.ParseValidated(reader.Rest(), WireLimits.Unlimited);
        }
        catch (ProtocolViolationException e)
        {
            throw reader.Malformed($"the queries do not parse ({e.Message})");
        }

        return queries.Count == count
            ? queries
            : throw reader.Malformed($"{queries.Count} queries where the count says {count}");
    }

    private static void WriteReplies(PayloadWriter writer, IReadOnlyList<Reply> replies)
    {
        writer.Length(replies.Count);
        foreach (var reply in replies)
        {
            var shape = ShapeOf(reply);
            writer.Byte((byte)shape);
            if (reply is Reply.MultiBytes multi) writer.Length(multi.Values.Count);
            if (shape != NoWireForm) ReplyEncoder.Encode([reply], writer.Buffer);
        }
    }

    private static QueryType ShapeOf(Reply reply) => reply switch
    {
        Reply.Bytes => QueryType.Get,
        Reply.Integer => QueryType.Add,
        Reply.CheckResult => QueryType.Check,
        Reply.StopWaiting => QueryType.Wait,
        Reply.WaitCanceled => QueryType.CancelWait,
        Reply.Pong => QueryType.Ping,
        Reply.MultiBytes => QueryType.MultiGet,
        Reply.QueueItem => QueryType.QueuePop,
        Reply.KeyList => QueryType.ListKeys,
        Reply.WaitPending => NoWireForm,
        _ => throw Unsupported(reply),
    };

    private static Reply[] ReadReplies(ref PayloadReader reader)
    {
        var replies = new Reply[reader.Count()];
        for (var i = 0; i < replies.Length; i++)
        {
            var shape = (QueryType)reader.Byte();
            if (shape == NoWireForm)
            {
                replies[i] = Reply.WaitPending.Instance;
                continue;
            }

            if (shape > WireFormat.LastQueryType || !ReplyReader.HasReply(shape))
                throw reader.Malformed($"reply shape {(byte)shape} is unknown");
            var values = shape == QueryType.MultiGet ? reader.Count() : 0;
            try
            {
                if (!ReplyReader.TryRead(shape, values, reader.Peek(), out var reply, out var consumed))
                    throw reader.Malformed($"a {shape} reply is cut short");
                reader.Skip(consumed);
                replies[i] = reply!;
            }
            catch (InvalidDataException e)
            {
                throw reader.Malformed($"a {shape} reply does not parse ({e.Message})");
            }
        }
        return replies;
    }

    private static Rejection? ReadRejection(ref PayloadReader reader)
    {
        if (!reader.Bool())
            return null;
        var type = reader.Byte();
        return type <= (byte)WireFormat.LastQueryType
            ? new Rejection((QueryType)type, reader.String(), reader.String())
            : throw reader.Malformed($"query type {type} is unknown");
    }

    // ---- The status messages ----

    private Waiters ReadWaiters(ref PayloadReader reader)
    {
        var totalKeys = reader.Int32();
        var keys = new AwaitedKey[reader.Count()];
        for (var i = 0; i < keys.Length; i++)
        {
            var key = reader.Bytes();
            var registrations = reader.Int32();
            keys[i] = new AwaitedKey(key, registrations, ReadRefs(ref reader));
        }
        return new Waiters(totalKeys, keys);
    }

    private Barriers ReadBarriers(ref PayloadReader reader)
    {
        var total = reader.Int32();
        var items = new BarrierInProgress[reader.Count()];
        for (var i = 0; i < items.Length; i++)
        {
            var key = reader.Bytes();
            long? arrived = reader.Bool() ? reader.Int64() : null;
            var expected = reader.Int64();
            var waiting = reader.Int32();
            items[i] = new BarrierInProgress(key, arrived, expected, waiting, ReadRefs(ref reader));
        }
        return new Barriers(total, items);
    }

    private static Entries ReadEntries(ref PayloadReader reader)
    {
        var total = reader.Int32();
        var offset = reader.Int32();
        var items = new Entry[reader.Count()];
        for (var i = 0; i < items.Length; i++)
            items[i] = new Entry(reader.Bytes(), reader.Int32(), reader.NullableBytes());
        return new Entries(total, offset, items);
    }

    private static QueueList ReadQueueList(ref PayloadReader reader)
    {
        var total = reader.Int32();
        var queues = new QueueInfo[reader.Count()];
        for (var i = 0; i < queues.Length; i++)
            queues[i] = new QueueInfo(reader.Bytes(), reader.Int32());
        return new QueueList(total, queues);
    }

    private static void WriteRefs(PayloadWriter writer, IReadOnlyList<IActorRef> refs)
    {
        writer.Length(refs.Count);
        foreach (var actor in refs)
            writer.String(AkkaSerialization.SerializedActorPath(actor));
    }

    private IActorRef[] ReadRefs(ref PayloadReader reader)
    {
        var refs = new IActorRef[reader.Count()];
        for (var i = 0; i < refs.Length; i++)
            refs[i] = ReadRef(ref reader);
        return refs;
    }

    // ---- Batches between a node's gateway and the singleton ----

    private NodeRequests ReadNodeRequests(ref PayloadReader reader)
    {
        var messages = new object[reader.Count()];
        for (var i = 0; i < messages.Length; i++)
            messages[i] = ReadNested(ref reader, ExecuteManifest, ConnectionClosedManifest);
        return new NodeRequests(messages);
    }

    private NodeReplies ReadNodeReplies(ref PayloadReader reader)
    {
        var deliveries = new Delivery[reader.Count()];
        for (var i = 0; i < deliveries.Length; i++)
        {
            var connection = ReadRef(ref reader);
            deliveries[i] = new Delivery(connection, ReadNested(ref reader, ExecutedManifest, WaitCompletedManifest));
        }
        return new NodeReplies(deliveries);
    }

    /// <summary>A message inside a batch: its manifest's byte (one of the two allowed) and its payload.</summary>
    private object ReadNested(ref PayloadReader reader, string first, string second)
    {
        var manifest = ((char)reader.Byte()).ToString();
        if (manifest != first && manifest != second)
            throw reader.Malformed($"a batch holds a message of manifest [{manifest}]");
        return FromBinary(reader.Bytes(), manifest);
    }

    // ---- The replicated state ----

    private static void WriteEpoch(PayloadWriter writer, StoreEpoch epoch)
    {
        writer.Int64(epoch.Number);
        writer.String(epoch.Owner);
    }

    private static StoreEpoch ReadEpoch(ref PayloadReader reader) => new(reader.Int64(), reader.String());

    private static void WriteStamp(PayloadWriter writer, Stamp stamp)
    {
        writer.Int64(stamp.Epoch);
        writer.Int64(stamp.Sequence);
    }

    private static Stamp ReadStamp(ref PayloadReader reader) => new(reader.Int64(), reader.Int64());

    private static void WriteId(PayloadWriter writer, string id)
    {
        writer.Length(id.Length);
        var span = writer.Buffer.GetSpan(id.Length);
        for (var i = 0; i < id.Length; i++)
            span[i] = id[i] <= 0xFF ? (byte)id[i] : throw new ArgumentException($"replica id {id} has a character above 0xFF");
        writer.Buffer.Advance(id.Length);
    }

    private static string ReadId(ref PayloadReader reader)
    {
        var bytes = reader.Bytes();
        return string.Create(bytes.Length, bytes, static (chars, b) =>
        {
            for (var i = 0; i < b.Length; i++) chars[i] = (char)b[i];
        });
    }

    private static void WriteJournal(PayloadWriter writer, JournalContent journal)
    {
        WriteEpoch(writer, journal.Generation);
        WriteStamp(writer, journal.TruncatedThrough);
        writer.Length(journal.Entries.Count);
        foreach (var (stamp, changes) in journal.Entries)
        {
            WriteStamp(writer, stamp);
            writer.Length(changes.Length);
            foreach (var change in changes)
            {
                WriteId(writer, change.Id);
                writer.NullableBytes(change.Value);
            }
        }
    }

    private static JournalContent ReadJournal(ref PayloadReader reader)
    {
        var generation = ReadEpoch(ref reader);
        var truncated = ReadStamp(ref reader);
        var entries = JournalContent.Empty.Entries.ToBuilder();
        var count = reader.Count();
        for (var i = 0; i < count; i++)
        {
            var stamp = ReadStamp(ref reader);
            var changes = new Change[reader.Count()];
            for (var j = 0; j < changes.Length; j++)
                changes[j] = new Change(ReadId(ref reader), reader.NullableBytes());
            if (!entries.TryAdd(stamp, changes)) throw reader.Malformed($"journal entry {stamp} appears twice");
        }
        return new JournalContent(generation, truncated, entries.ToImmutable());
    }

    private static void WriteBucket(PayloadWriter writer, BucketContent bucket)
    {
        WriteEpoch(writer, bucket.Generation);
        writer.Length(bucket.Items.Count);
        foreach (var (id, item) in bucket.Items)
        {
            WriteId(writer, id);
            WriteStamp(writer, item.Stamp);
            writer.NullableBytes(item.Value);
        }
    }

    private static BucketContent ReadBucket(ref PayloadReader reader)
    {
        var generation = ReadEpoch(ref reader);
        var items = BucketContent.NoItems.ToBuilder();
        var count = reader.Count();
        for (var i = 0; i < count; i++)
        {
            var id = ReadId(ref reader);
            if (!items.TryAdd(id, new Stamped(ReadStamp(ref reader), reader.NullableBytes())))
                throw reader.Malformed($"bucket item {id} appears twice");
        }
        return new BucketContent(generation, items.ToImmutable());
    }

    private IActorRef ReadRef(ref PayloadReader reader)
    {
        var path = reader.String();
        try
        {
            return system.Provider.ResolveActorRef(path);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            // A damaged path can fail to parse (a UID that is not a number, say) rather than resolve to dead letters.
            throw reader.Malformed($"actor path [{path}] does not parse ({e.Message})");
        }
    }
}
