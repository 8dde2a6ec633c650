using System.Text;
using Akka.Actor;
using Akka.TestKit;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Tests.Store;

/// <summary>Helpers shared by the <see cref="StoreActor"/> suites: probes act as connections.</summary>
public abstract class StoreTestBase(ITestOutputHelper output) : global::Akka.TestKit.Xunit2.TestKit(output: output)
{
    /// <summary>Long enough for a stray message to show up after a synchronising round trip.</summary>
    protected static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);

    protected static readonly Reply Stop = Reply.StopWaiting.Instance;
    protected static readonly Reply Pending = Reply.WaitPending.Instance;
    protected static readonly Reply Canceled = Reply.WaitCanceled.Instance;
    protected static readonly Reply Ready = Reply.CheckResult.ReadyReply;
    protected static readonly Reply NotReady = Reply.CheckResult.NotReadyReply;

    protected IActorRef NewStore(StoreLimits? limits = null) => Sys.ActorOf(StoreActor.Props(limits ?? StoreLimits.Default));

    protected static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    protected static Query Set(string k, string v) => new Query.Set(B(k), B(v));
    protected static Query Get(string k) => new Query.Get(B(k));
    protected static Query Add(string k, long d) => new Query.Add(B(k), d);
    protected static Query Append(string k, string v) => new Query.Append(B(k), B(v));
    protected static Query Cas(string k, string expected, string desired) => new Query.CompareSet(B(k), B(expected), B(desired));
    protected static Query Delete(string k) => new Query.DeleteKey(B(k));
    protected static Query Check(params string[] ks) => new Query.Check(Keys(ks));
    protected static Query Wait(params string[] ks) => new Query.Wait(Keys(ks));
    protected static Query MultiGet(params string[] ks) => new Query.MultiGet(Keys(ks));
    protected static Query MultiSet(params (string K, string V)[] pairs) =>
        new Query.MultiSet(pairs.Select(p => new KeyValuePair<byte[], byte[]>(B(p.K), B(p.V))).ToArray());
    protected static Query Push(string k, string v) => new Query.QueuePush(B(k), B(v));
    protected static Query Pop(string k) => new Query.QueuePop(B(k));
    protected static Query QLen(string k) => new Query.QueueLen(B(k));
    protected static Query Cancel => Query.CancelWait.Instance;
    protected static Query NumKeys => Query.GetNumKeys.Instance;
    protected static Query ListKeys => Query.ListKeys.Instance;

    protected static Reply Val(string v) => new Reply.Bytes(B(v));
    protected static Reply Int(long v) => new Reply.Integer(v);
    protected static Reply Item(long length, string? v) => new Reply.QueueItem(length, v is null ? null : B(v));
    protected static Reply Values(params string[] vs) => new Reply.MultiBytes(Keys(vs));
    protected static Reply KeyList(params string[] ks) => new Reply.KeyList(Keys(ks));

    private static byte[][] Keys(string[] ks) => ks.Select(B).ToArray();

    /// <summary>Sends one batch from <paramref name="connection"/> and returns the store's answer.</summary>
    protected static Executed Send(IActorRef store, TestProbe connection, params Query[] queries)
    {
        store.Tell(new Execute(connection.Ref, queries), connection.Ref);
        return connection.ExpectMsg<Executed>();
    }

    /// <summary>Sends one batch that must succeed and asserts its replies.</summary>
    protected static void Run(IActorRef store, TestProbe connection, Query[] queries, params Reply[] expected)
    {
        var executed = Send(store, connection, queries);
        Assert.Null(executed.Rejection);
        AssertReplies(expected, executed.Replies);
    }

    /// <summary>Sends one single-query batch that must succeed and asserts its replies.</summary>
    protected static void Run(IActorRef store, TestProbe connection, Query query, params Reply[] expected) =>
        Run(store, connection, [query], expected);

    protected static void AssertReplies(IEnumerable<Reply> expected, IEnumerable<Reply> actual) =>
        Assert.Equal(expected.Select(Describe).ToList(), actual.Select(Describe).ToList());

    protected StoreStats Stats(IActorRef store)
    {
        store.Tell(GetStats.Instance, TestActor);
        return ExpectMsg<StoreStats>();
    }

    /// <summary>
    /// Asserts that <paramref name="connection"/> got nothing more. The stats round trip first makes sure the store
    /// has processed everything sent before (its Tells are enqueued synchronously), so the window can stay short.
    /// </summary>
    protected void AssertSilent(IActorRef store, TestProbe connection)
    {
        Stats(store);
        connection.ExpectNoMsg(Quiet);
    }

    protected static void ExpectWaitCompleted(TestProbe connection) =>
        connection.ExpectMsg<WaitCompleted>(TimeSpan.FromSeconds(3));

    /// <summary>Records compare byte arrays by reference; compare by a readable rendering instead.</summary>
    private static string Describe(Reply reply) => reply switch
    {
        Reply.Bytes b => $"Bytes({Show(b.Value)})",
        Reply.MultiBytes m => $"MultiBytes({string.Join(",", m.Values.Select(Show))})",
        // LIST_KEYS order is unspecified (hash-map order), so compare it sorted.
        Reply.KeyList k => $"KeyList({string.Join(",", k.Keys.Select(Show).Order(StringComparer.Ordinal))})",
        Reply.QueueItem q => $"QueueItem({q.LengthBeforePop},{(q.Value is null ? "null" : Show(q.Value))})",
        _ => reply.ToString(),
    };

    private static string Show(byte[] bytes) => "\"" + Encoding.UTF8.GetString(bytes) + "\"";
}
