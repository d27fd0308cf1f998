package sqlstore

import (
	"bytes"
	"context"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
)

// followUsers keeps mdb's accounts those of the catalog on a read-only node that follows the
// log: each replayed catalog change wakes it, and it reloads the accounts when the writer
// changed them (CREATE USER, GRANT, a password), so that logins and privilege checks here
// agree with the writer's within the replay's lag. It runs until the engine closes.
func (s *Store) followUsers(mdb *mysql_db.MySQLDb, loaded []byte) {
	wake := make(chan struct{}, 1)
	s.replayMu.Lock()
	s.replayed = append(s.replayed, wake)
	s.replayMu.Unlock()
	s.db.Go(func(stop <-chan struct{}) {
		last := loaded
		for {
			select {
			case <-stop:
				return
			case <-wake:
			}
			blob, err := s.loadUsers(context.Background())
			if err != nil {
				s.lg.Error("sqlstore: read the accounts the writer changed", "err", err)
				continue
			}
			if bytes.Equal(blob, last) {
				continue
			}
			if err := replaceUsers(sql.NewEmptyContext(), mdb, blob); err != nil {
				s.lg.Error("sqlstore: load the accounts the writer changed", "err", err)
				continue
			}
			last = blob
		}
	})
}

// wakeReplayed tells the account followers that the catalog changed.
func (s *Store) wakeReplayed() {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	for _, w := range s.replayed {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// replaceUsers makes mdb's users and role edges exactly those stored in blob: the ones blob
// has are put, the others removed.
func replaceUsers(ctx *sql.Context, mdb *mysql_db.MySQLDb, blob []byte) error {
	fresh := mysql_db.CreateEmptyMySQLDb()
	if err := fresh.LoadData(ctx, blob); err != nil {
		return err
	}
	var users []*mysql_db.User
	var edges []*mysql_db.RoleEdge
	rd := fresh.Reader()
	rd.VisitUsers(func(u *mysql_db.User) { users = append(users, u) })
	rd.VisitRoleEdges(func(e *mysql_db.RoleEdge) { edges = append(edges, e) })
	rd.Close()

	ed := mdb.Editor()
	defer ed.Close()
	keepU := map[mysql_db.UserPrimaryKey]bool{}
	for _, u := range users {
		// PutUser replaces only an equal entry: a changed one must go first.
		k := mysql_db.UserPrimaryKey{Host: u.Host, User: u.User}
		ed.RemoveUser(k)
		ed.PutUser(u)
		keepU[k] = true
	}
	var dropU []mysql_db.UserPrimaryKey
	ed.VisitUsers(func(u *mysql_db.User) {
		if k := (mysql_db.UserPrimaryKey{Host: u.Host, User: u.User}); !keepU[k] {
			dropU = append(dropU, k)
		}
	})
	for _, k := range dropU {
		ed.RemoveUser(k)
	}
	keepE := map[mysql_db.RoleEdgesPrimaryKey]bool{}
	for _, e := range edges {
		ed.RemoveRoleEdge(edgeKey(e))
		ed.PutRoleEdge(e)
		keepE[edgeKey(e)] = true
	}
	var dropE []mysql_db.RoleEdgesPrimaryKey
	ed.VisitRoleEdges(func(e *mysql_db.RoleEdge) {
		if k := edgeKey(e); !keepE[k] {
			dropE = append(dropE, k)
		}
	})
	for _, k := range dropE {
		ed.RemoveRoleEdge(k)
	}
	mdb.SetEnabled(true)
	return nil
}

func edgeKey(e *mysql_db.RoleEdge) mysql_db.RoleEdgesPrimaryKey {
	return mysql_db.RoleEdgesPrimaryKey{FromHost: e.FromHost, FromUser: e.FromUser, ToHost: e.ToHost, ToUser: e.ToUser}
}
