using TcpStore.Akka.Store;

namespace TcpStore.Akka.Tests.Store;

public sealed class ByteArrayComparerTests
{
    [Fact]
    public void Compares_by_content()
    {
        var c = ByteArrayComparer.Instance;
        Assert.True(c.Equals([1, 2, 3], [1, 2, 3]));
        Assert.Equal(c.GetHashCode([1, 2, 3]), c.GetHashCode([1, 2, 3]));
        Assert.False(c.Equals([1, 2, 3], [1, 2]));
        Assert.False(c.Equals([1, 2, 3], [1, 2, 4]));
        Assert.True(c.Equals([], []));
        Assert.False(c.Equals([], null));
        Assert.True(c.Equals(null, null));
    }

    [Fact]
    public void Spreads_similar_keys()
    {
        // Keys that differ in one byte (typical "/rank_17" style names) must not collide en masse.
        var hashes = new HashSet<int>();
        for (var i = 0; i < 10_000; i++)
            hashes.Add(ByteArrayComparer.Instance.GetHashCode(System.Text.Encoding.ASCII.GetBytes($"/rank_{i}")));
        Assert.True(hashes.Count > 9_990, $"only {hashes.Count} distinct hashes");
    }
}
