using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// Issue 13, hole 1: an old singleton that another node has replaced (it was paused, or cut off) must not answer
/// from the state it holds. Two singletons over one set of replicas: A serves, B takes over and changes a key, then A
/// is asked again.
/// </summary>
public sealed class FencingSpec : StoreSpec
{
    public static TheoryData<string, int> StaleReads()
    {
        var data = new TheoryData<string, int>();
        foreach (var read in new[] { "GET", "failed COMPARE_SET", "MULTI_GET", "CHECK", "BARRIER" })
        {
            data.Add(read, 0);   // every reply confirmed by its own epoch read
            data.Add(read, 300); // a 300 ms lease
        }
        return data;
    }

    private static Query StaleRead(string name) => name switch
    {
        "GET" => new Query.Get(B("/x")),
        "failed COMPARE_SET" => new Query.CompareSet(B("/x"), B("v0"), B("v9")),
        "MULTI_GET" => new Query.MultiGet([B("/x"), B("/y")]),
        "CHECK" => new Query.Check([B("/y")]),
        "BARRIER" => new Query.Barrier(B("/arrived"), 2),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(StaleReads))]
    public void A_replaced_singleton_answers_nothing_from_its_stale_state_and_stops(string read, int leaseMs)
    {
        var replicas = new ReplicaSet(3);
        var settings = Settings(lease: TimeSpan.FromMilliseconds(leaseMs));
        var a = StartStore(replicas, 0, settings);
        Run(a, new Query.Set(B("/x"), B("v1")), new Query.Set(B("/y"), B("y")), new Query.Add(B("/arrived"), 1), new Query.Ping(1));

        var b = StartStore(replicas, 1, settings); // with a lease, it serves only once A's has run out
        Assert.Equal("v2", S(Value(Run(b, new Query.CompareSet(B("/x"), B("v1"), B("v2"))).Replies[0])));
        Assert.Equal(2, Integer(Run(b, new Query.DeleteKey(B("/y")), new Query.Add(B("/arrived"), 1)).Replies[1]));

        Watch(a);
        var client = CreateTestProbe();
        Send(a, client, StaleRead(read));
        var stale = client.ReceiveOne(Quiet);
        Assert.True(stale is null, $"the replaced singleton answered {read} from its stale state: {Describe(stale)}");
        ExpectTerminated(a, TimeSpan.FromSeconds(10));
        client.ExpectNoMsg(TimeSpan.Zero);
    }

    private static string Describe(object? message) => message is Executed executed
        ? string.Join(", ", executed.Replies.Select(r => r switch
        {
            Reply.Bytes bytes => $"\"{S(bytes.Value)}\"",
            Reply.MultiBytes multi => $"[{string.Join(", ", multi.Values.Select(v => $"\"{S(v)}\""))}]",
            _ => r.ToString(),
        }))
        : $"{message}";
}
