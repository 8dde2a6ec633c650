using System.Text;
using System.Text.Json;

namespace TcpStore.Akka.Cli;

/// <summary>The CLI's output: plain lines, JSON objects, and errors prefixed with <c>tcpstore:</c>.</summary>
internal sealed class Io(TextWriter output, TextWriter error)
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public void Line(string text) => output.WriteLine(text);

    public void Error(string message) => error.WriteLine($"tcpstore: {message}");

    public void Json(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOptions))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    public void JsonArray(IEnumerable<string> items)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOptions))
        {
            w.WriteStartArray();
            foreach (var item in items) w.WriteStringValue(item);
            w.WriteEndArray();
        }

        output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>"OK", or <c>{"ok":true,...}</c> in JSON.</summary>
    public void Done(bool json, Action<Utf8JsonWriter> fields)
    {
        if (!json)
        {
            Line("OK");
            return;
        }

        Json(w =>
        {
            fields(w);
            w.WriteBoolean("ok", true);
        });
    }
}
