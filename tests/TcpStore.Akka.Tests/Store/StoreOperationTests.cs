using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Store;

/// <summary>Every query type's reply and effect on the map (docs/PROTOCOL.md §2), without waiters.</summary>
public sealed class StoreOperationTests(ITestOutputHelper output) : StoreTestBase(output)
{
    [Fact]
    public void Set_then_get_returns_the_value_and_overwrites()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("/a", "1"), Get("/a"), Set("/a", "two"), Get("/a")], Val("1"), Val("two"));
    }

    [Fact]
    public void Queries_without_reply_add_none_and_replies_keep_request_order()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c,
            [Set("a", "1"), Append("a", "2"), new Query.Ping(7), MultiSet(("b", "x")), Push("q", "i"), Get("a"), Get("b")],
            new Reply.Pong(7), Val("12"), Val("x"));
    }

    [Fact]
    public void Empty_batch_is_answered_with_no_replies()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, []);
    }

    [Fact]
    public void Executed_goes_to_the_connection_in_the_message_not_the_sender()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        store.Tell(new StoreProtocol.Execute(c.Ref, [new Query.Ping(1)]), TestActor);
        var executed = c.ExpectMsg<StoreProtocol.Executed>();
        AssertReplies([new Reply.Pong(1)], executed.Replies);
        ExpectNoMsg(Quiet); // nothing to the sender
    }

    [Fact]
    public void Get_and_multi_get_of_missing_keys_answer_empty_and_keep_serving()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("a", "1"), Set("e", ""), Get("nope"), MultiGet("a", "nope", "e", "a"), Get("a")],
            Val(""), Values("1", "", "", "1"), Val("1"));
    }

    [Fact]
    public void Keys_are_compared_by_bytes_not_by_text()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        byte[] k1 = [0xff, 0x00, 0x01];
        byte[] k1Copy = [0xff, 0x00, 0x01];
        byte[] k2 = [0xff, 0x00];
        Run(store, c, [new Query.Set(k1, [1]), new Query.Set(k2, [2]), new Query.Get(k1Copy), NumKeys],
            new Reply.Bytes([1]), Int(2));
    }

    [Fact]
    public void Append_concatenates_or_creates()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Append("a", "x"), Append("a", "yz"), Append("a", ""), Get("a")], Val("xyz"));
    }

    [Fact]
    public void Values_already_replied_are_not_changed_by_a_later_append()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        var first = Send(store, c, Set("a", "x"), Get("a"));
        var bytes = ((Reply.Bytes)first.Replies[0]).Value;
        Run(store, c, [Append("a", "y"), Get("a")], Val("xy"));
        Assert.Equal(B("x"), bytes);
    }

    [Fact]
    public void Delete_key_answers_1_when_erased_and_0_when_absent_and_leaves_queues()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("a", "1"), Push("q", "i"), Delete("a"), Delete("a"), Delete("q"), Get("a"), QLen("q")],
            Int(1), Int(0), Int(0), Val(""), Int(1));
    }

    [Fact]
    public void Getnumkeys_and_list_keys_see_the_map_only()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [NumKeys, ListKeys], Int(0), KeyList());
        Run(store, c, [Set("init/", "1"), Set("/a", ""), Push("/q", "i"), NumKeys, ListKeys],
            Int(2), KeyList("init/", "/a"));
        Run(store, c, [Delete("/a"), NumKeys, ListKeys], Int(1), Int(1), KeyList("init/"));
    }

    [Fact]
    public void Ping_echoes_the_nonce()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [new Query.Ping(0), new Query.Ping(uint.MaxValue)], new Reply.Pong(0), new Reply.Pong(uint.MaxValue));
    }

    [Fact]
    public void Check_is_ready_iff_every_key_is_in_the_map_or_a_non_empty_queue()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Check(), Check("a"), Set("a", ""), Check("a"), Check("a", "q"), Push("q", "i"), Check("a", "q"),
                Pop("q"), Check("q")],
            Ready, NotReady, Ready, NotReady, Ready, Item(1, "i"), NotReady);
    }

    [Fact]
    public void Multi_set_stores_every_pair_last_one_wins_for_duplicates()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [MultiSet(("a", "1"), ("b", "2"), ("a", "3")), MultiGet("a", "b"), NumKeys], Values("3", "2"), Int(2));
    }

    [Fact]
    public void Stats_report_keys_queues_bytes_and_waiters()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Assert.Equal(new StoreProtocol.StoreStats(0, 0, 0, 0, 0, 0), Stats(store));

        Run(store, c, [Set("ab", "123"), Set("ab", "12"), Append("ab", "3456"), Set("c", ""), Push("q", "xy"), Push("q", "z"),
            Push("r", "")]);
        // map: "ab"+"123456" (8) + "c" (1); queue items: 2+1+0.
        Assert.Equal(new StoreProtocol.StoreStats(2, 2, 3, 12, 0, 0), Stats(store));

        Run(store, c, [Delete("ab"), Pop("q"), Pop("r"), Add("n", 10)], Int(1), Item(2, "xy"), Item(1, ""), Int(10));
        Assert.Equal(new StoreProtocol.StoreStats(2, 1, 1, 5, 0, 0), Stats(store));

        var w = CreateTestProbe();
        Run(store, w, Wait("x", "y", "x"), Pending);
        Assert.Equal(new StoreProtocol.StoreStats(2, 1, 1, 5, 1, 3), Stats(store));
    }
}
