package vmm.svm;

import java.util.List;
import java.util.ResourceBundle;
import java.util.concurrent.CopyOnWriteArrayList;

/** A {@link System.Logger} that keeps what it is told, as "LEVEL message" lines. */
public final class RecordingLogger implements System.Logger {
    private final List<String> lines = new CopyOnWriteArrayList<>();

    public List<String> lines() {
        return lines;
    }

    @Override public String getName() { return "recording"; }
    @Override public boolean isLoggable(Level level) { return true; }

    @Override
    public void log(Level level, ResourceBundle bundle, String msg, Throwable thrown) {
        lines.add(level + " " + msg);
    }

    @Override
    public void log(Level level, ResourceBundle bundle, String format, Object... params) {
        lines.add(level + " " + (params == null ? format : java.text.MessageFormat.format(format, params)));
    }
}
