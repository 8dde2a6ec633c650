using TcpStore.Protocol;
using TcpStore.Akka.Store;
using Xunit.Abstractions;

namespace TcpStore.Akka.Tests.Store;

/// <summary>COMPARE_SET's four cases (docs/PROTOCOL.md §2.4, §6.2) and ADD's strtoll parsing (docs/PROTOCOL.md §2.6).</summary>
public sealed class CompareSetAndAddTests(ITestOutputHelper output) : StoreTestBase(output)
{
    [Fact]
    public void Cas_on_missing_key_with_empty_expected_stores_desired_and_wakes()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("k"), Pending);
        Run(store, c, [Cas("k", "", "new"), Get("k")], Val("new"), Val("new"));
        ExpectWaitCompleted(w);
    }

    [Fact]
    public void Cas_on_missing_key_with_non_empty_expected_stores_nothing_answers_expected_and_wakes_nobody()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, w, Wait("k"), Pending);
        Run(store, c, [Cas("k", "exp", "new"), Get("k"), NumKeys], Val("exp"), Val(""), Int(0));
        AssertSilent(store, w);
        Assert.Equal(1, Stats(store).WaiterRegistrations);
    }

    [Fact]
    public void Cas_on_present_equal_value_swaps_including_present_empty_with_empty_expected()
    {
        // A waiter can never be registered under a present key (WAIT registers missing keys only and every
        // creation of a key wakes its whole list), so the swap's wake is not observable here.
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("k", "old"), Cas("k", "old", "new"), Get("k")], Val("new"), Val("new"));
        Run(store, c, [Set("e", ""), Cas("e", "", "filled"), Get("e")], Val("filled"), Val("filled"));
        Run(store, c, [Cas("k", "new", ""), Get("k"), NumKeys], Val(""), Val(""), Int(2));
    }

    [Fact]
    public void Cas_on_present_different_value_is_unchanged_and_answers_current()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("k", "cur"), Cas("k", "other", "new"), Cas("k", "", "new"), Get("k")],
            Val("cur"), Val("cur"), Val("cur"));
        Run(store, c, [Set("e", ""), Cas("e", "x", "new"), Get("e")], Val(""), Val(""));
    }

    [Fact]
    public void Cas_that_does_not_store_leaves_a_pending_wait_pending_until_a_real_store()
    {
        var store = NewStore();
        var (c, w) = (CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("present", "v"), []);
        Run(store, w, Wait("k", "present"), Pending);
        Run(store, c, [Cas("k", "x", "y"), Cas("present", "nope", "z")], Val("x"), Val("v"));
        AssertSilent(store, w);
        Run(store, c, [Cas("k", "", "y")], Val("y"));
        ExpectWaitCompleted(w);
    }

    [Theory]
    [InlineData(" 7xyz", 1L, 8L)]
    [InlineData("-3", 1L, -2L)]
    [InlineData("+5", 2L, 7L)]
    [InlineData("\t\n 10", -20L, -10L)]
    [InlineData("9223372036854775807", 1L, long.MinValue)] // the sum wraps like PyTorch's unchecked int64
    [InlineData("-9223372036854775808", -1L, long.MaxValue)]
    public void Add_parses_the_stored_value_like_strtoll_and_stores_decimal_ascii(string stored, long delta, long expected)
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Set("n", stored), Add("n", delta), Get("n")], Int(expected), Val(expected.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Add_on_missing_key_starts_from_zero_and_accumulates()
    {
        var store = NewStore();
        var c = CreateTestProbe();
        Run(store, c, [Add("n", 5), Add("n", -8), Get("n"), Add("n", 0)], Int(5), Int(-3), Val("-3"), Int(-3));
    }

    [Theory]
    [InlineData("", "add-not-a-number")]
    [InlineData("abc", "add-not-a-number")]
    [InlineData(" - 1", "add-not-a-number")]
    [InlineData("9223372036854775808", "add-out-of-range")]
    [InlineData("-9223372036854775809", "add-out-of-range")]
    public void Add_on_an_unparsable_value_is_rejected_and_changes_nothing(string stored, string reason)
    {
        var store = NewStore();
        var (c, other, w) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, c, Set("n", stored), []);
        Run(store, w, Wait("n2"), Pending);

        var executed = Send(store, c, Get("n"), Add("n", 1), Set("n2", "not executed"), Get("n"));
        AssertReplies([Val(stored)], executed.Replies);
        Assert.Equal(new Rejection(QueryType.Add, reason, executed.Rejection!.Detail), executed.Rejection);

        Run(store, other, [Get("n"), Get("n2"), NumKeys], Val(stored), Val(""), Int(1));
        AssertSilent(store, w);
    }

    [Fact]
    public void Add_wakes_all_waiters()
    {
        var store = NewStore();
        var (c, w1, w2) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Run(store, w1, Wait("n"), Pending);
        Run(store, w2, Wait("n"), Pending);
        Run(store, c, Add("n", 1), Int(1));
        ExpectWaitCompleted(w1);
        ExpectWaitCompleted(w2);
    }
}
