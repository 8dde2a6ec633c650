using System.Collections;
using System.Reflection;
using Akka.Actor;

namespace TcpStore.Akka.Cluster.Tests.Serialization;

/// <summary>
/// Deep equality for the store messages. Their records hold byte arrays and lists, which record equality compares by
/// reference, so this walks every public property instead: arrays by content, lists element by element, actor refs
/// and scalars with <see cref="object.Equals(object)"/>, other structs (key/value pairs) and records property by
/// property. Reflection keeps it exhaustive as fields are added.
/// </summary>
internal static class Structural
{
    public static void AssertEqual(object? expected, object? actual, string path = "message")
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {Show(expected)}, got {Show(actual)}");
            return;
        }
        if (expected is IEnumerable and not (byte[] or string))
        {
            // Lists compare by content whatever their concrete type (a collection expression's or the reader's array).
            var expectedItems = ((IEnumerable)expected).Cast<object?>().ToList();
            var actualItems = Assert.IsAssignableFrom<IEnumerable>(actual).Cast<object?>().ToList();
            Assert.True(expectedItems.Count == actualItems.Count, $"{path}: expected {expectedItems.Count} items, got {actualItems.Count}");
            for (var i = 0; i < expectedItems.Count; i++)
                AssertEqual(expectedItems[i], actualItems[i], $"{path}[{i}]");
            return;
        }
        Assert.True(expected.GetType() == actual.GetType(), $"{path}: expected a {expected.GetType()}, got a {actual.GetType()}");
        switch (expected)
        {
            case byte[] e:
                var a = (byte[])actual;
                Assert.True(e.AsSpan().SequenceEqual(a), $"{path}: expected {Show(e)}, got {Show(a)}");
                return;
            case string or Enum or IActorRef:
            case ValueType when expected.GetType().IsPrimitive:
                Assert.True(expected.Equals(actual), $"{path}: expected {expected}, got {actual}");
                return;
            default:
                foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    if (property.GetIndexParameters().Length == 0)
                        AssertEqual(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
                }
                return;
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        byte[] { Length: > 32 } b => $"{b.Length} bytes {Convert.ToHexString(b, 0, 32)}...",
        byte[] b => $"{b.Length} bytes {Convert.ToHexString(b)}",
        _ => value.ToString() ?? "",
    };
}
