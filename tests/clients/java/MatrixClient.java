// Drives MariaDB Connector/J the way DBeaver does, for byom's client tests.
//
// Usage: java -cp <driver jar>:<dir> MatrixClient <jdbc url> <user> <password>
// Reads one step a line on stdin, fields separated by tabs:
//   Q <label> <sql>                  Statement.executeQuery
//   P <label> <sql> <param>...       PreparedStatement; a param is i:<int> or s:<text>
//   M <label> <method>               a DatabaseMetaData call on catalog mindsdb
//   A <label> <on|off|keep>          Connection.setAutoCommit (keep: none), then
//                                    getAutoCommit, which the driver answers
//                                    from the server's status flags
// and prints, for each step, "#<label>", the column labels, then one line a row
// (tab-separated, \N for NULL, backslash escapes); a failed step prints
// "!<label><TAB><message>" and the next step runs.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;

public final class MatrixClient {
    private static final String CATALOG = "mindsdb";
    private static final String TABLE = "rooms";

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(
            new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2])) {
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.isEmpty()) {
                    step(connection, line.split("\t", -1));
                }
            }
        }
    }

    private static void step(Connection connection, String[] fields) {
        String label = fields[1];
        try {
            switch (fields[0]) {
                case "Q":
                    try (Statement statement = connection.createStatement();
                         ResultSet rows = statement.executeQuery(fields[2])) {
                        print(label, rows);
                    }
                    break;
                case "P":
                    try (PreparedStatement statement = connection.prepareStatement(fields[2])) {
                        for (int i = 3; i < fields.length; i++) {
                            bind(statement, i - 2, fields[i]);
                        }
                        try (ResultSet rows = statement.executeQuery()) {
                            print(label, rows);
                        }
                    }
                    break;
                case "M":
                    try (ResultSet rows = metadata(connection.getMetaData(), fields[2])) {
                        print(label, rows);
                    }
                    break;
                case "A":
                    if (!fields[2].equals("keep")) {
                        connection.setAutoCommit(fields[2].equals("on"));
                    }
                    System.out.print("#" + label + "\ngetAutoCommit\n"
                        + connection.getAutoCommit() + "\n");
                    break;
                default:
                    throw new IllegalArgumentException("unknown step " + fields[0]);
            }
        } catch (SQLException | RuntimeException exc) {
            System.out.println("!" + label + "\t" + escape(String.valueOf(exc.getMessage())));
        }
        System.out.flush();
    }

    private static void bind(PreparedStatement statement, int index, String param)
            throws SQLException {
        String value = unescape(param.substring(2));
        if (param.startsWith("i:")) {
            statement.setInt(index, Integer.parseInt(value));
        } else {
            statement.setString(index, value);
        }
    }

    private static ResultSet metadata(DatabaseMetaData meta, String method) throws SQLException {
        switch (method) {
            case "getCatalogs": return meta.getCatalogs();
            case "getSchemas": return meta.getSchemas();
            case "getTableTypes": return meta.getTableTypes();
            case "getTables": return meta.getTables(CATALOG, null, "%", null);
            case "getColumns": return meta.getColumns(CATALOG, null, TABLE, "%");
            case "getPrimaryKeys": return meta.getPrimaryKeys(CATALOG, null, TABLE);
            case "getIndexInfo": return meta.getIndexInfo(CATALOG, null, TABLE, false, true);
            default: throw new IllegalArgumentException("unknown metadata call " + method);
        }
    }

    private static void print(String label, ResultSet rows) throws SQLException {
        ResultSetMetaData columns = rows.getMetaData();
        int count = columns.getColumnCount();
        StringBuilder out = new StringBuilder("#").append(label).append('\n');
        for (int i = 1; i <= count; i++) {
            out.append(i > 1 ? "\t" : "").append(escape(columns.getColumnLabel(i)));
        }
        out.append('\n');
        while (rows.next()) {
            for (int i = 1; i <= count; i++) {
                String value = rows.getString(i);
                out.append(i > 1 ? "\t" : "").append(value == null ? "\\N" : escape(value));
            }
            out.append('\n');
        }
        System.out.print(out);
    }

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }

    private static String unescape(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\' && i + 1 < text.length()) {
                char next = text.charAt(++i);
                out.append(next == 't' ? '\t' : next == 'n' ? '\n' : next);
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
